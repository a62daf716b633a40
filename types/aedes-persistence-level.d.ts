// aedes-persistence-level ships no types: a factory taking a Level instance.
declare module 'aedes-persistence-level' {
  const factory: (db: unknown) => unknown;
  export default factory;
}
