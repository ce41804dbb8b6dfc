// Wire protocol v1 (docs/protocol.md): layout, rings, endpoints.
export * from './layout';
export * from './ring';
export * from './endpoint';
