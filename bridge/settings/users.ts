/** Rules for `broker.users` beyond its fields' formats (config/schema.ts): logins for the embedded broker. */
import type { BrokerUser } from '../../broker/embedded.ts';
import type { Problems } from './fields.ts';
import { readItem, type ItemRule } from './items.ts';
import { schema } from './schema.ts';
import type { Derived } from './types.ts';

type UserDraft = Derived<typeof schema.broker.users.items, true>;

const userRules = {
  // A value of the wrong type was reported by its format; only a missing or empty one is left.
  usernameNotEmpty(_user, at) {
    if (!at.has('username') || at.raw('username') === '') at.report('username', at.raw('username'), 'a non-empty user name');
  },
  usernameOnce(user, at, seen) {
    if (user.username !== null && user.username !== '' && seen.has(user.username)) at.problems.add(at.at('username'), user.username, 'each user name once');
    if (user.username !== null) seen.add(user.username);
  },
  passwordNotEmpty(_user, at) {
    if (!at.has('password') || at.raw('password') === '') at.report('password', at.raw('password'), 'a non-empty password');
  },
} satisfies Record<string, ItemRule<UserDraft, Set<string>>>;

export function readUsers(raw: unknown[], problems: Problems): BrokerUser[] {
  const seen = new Set<string>();
  const users: BrokerUser[] = [];
  raw.forEach((entry, index) => {
    const user = readItem(schema.broker.users.items, userRules, entry, `broker.users[${index}]`, seen, problems, true);
    if (user === undefined) return;
    const { username, password, publish, subscribe } = user;
    // Without a filter list a user may use every topic: BrokerUser leaves the key out.
    users.push({ username: username ?? '', password: password ?? '', ...(publish === null ? {} : { publish }), ...(subscribe === null ? {} : { subscribe }) });
  });
  return users;
}
