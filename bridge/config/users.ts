/** Checks `broker.users`: logins for the embedded broker with optional topic filters. */
import type { BrokerUser } from '../../broker/embedded.ts';
import { isValidFilter } from '../../broker/topic-filter.ts';
import { Fields, type Problems } from './fields.ts';

function filters(f: Fields, key: 'publish' | 'subscribe', problems: Problems): string[] | undefined {
  if (!f.has(key)) {
    f.raw(key);
    return undefined;
  }
  const list = f.list(key);
  list.forEach((filter, i) => {
    if (typeof filter !== 'string' || !isValidFilter(filter)) problems.add(`${f.path(key)}[${i}]`, filter, 'an MQTT topic filter (+ and # only as whole levels, # last)');
  });
  return list.filter((x): x is string => typeof x === 'string');
}

export function readUsers(raw: unknown[], problems: Problems): BrokerUser[] {
  const users: BrokerUser[] = [];
  const seen = new Set<string>();
  raw.forEach((entry, index) => {
    const path = `broker.users[${index}]`;
    const f = new Fields(entry, path, problems, true);
    if (!f.valid) return;
    const username = f.string('username', '');
    const password = f.string('password', '');
    // A value of the wrong type was reported by f.string; only a missing or empty one is left.
    const empty = (key: string): boolean => !f.has(key) || f.raw(key) === '';
    if (empty('username')) problems.addSecret(f.path('username'), f.raw('username'), 'a non-empty user name');
    else if (seen.has(username)) problems.add(f.path('username'), username, 'each user name once');
    if (empty('password')) problems.addSecret(f.path('password'), f.raw('password'), 'a non-empty password');
    if (username !== '') seen.add(username);
    const publish = filters(f, 'publish', problems);
    const subscribe = filters(f, 'subscribe', problems);
    f.rejectUnknown();
    users.push({ username, password, ...(publish === undefined ? {} : { publish }), ...(subscribe === undefined ? {} : { subscribe }) });
  });
  return users;
}
