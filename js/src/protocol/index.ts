// Wire protocol v2 (docs/protocol.md): layout, rings, framer, endpoints.
export * from './layout';
export * from './ring';
export * from './framer';
export * from './endpoint';
