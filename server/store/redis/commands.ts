/**
 * What the Redis stores use of a node-redis client, which a node-redis cluster client
 * offers too: commands that name their keys, so that a cluster sends each one to the node
 * holding its slot.
 */
export interface RedisCommands {
  eval(script: string, options: { keys: string[]; arguments?: string[] }): Promise<unknown>;
  xRange(key: string, start: string, end: string, options?: { COUNT: number }): Promise<unknown>;
  xRevRange(key: string, end: string, start: string, options?: { COUNT: number }): Promise<unknown>;
  hGetAll(key: string): Promise<unknown>;
  hDel(key: string, fields: string[]): Promise<unknown>;
  del(keys: string[]): Promise<unknown>;
  get(key: string): Promise<unknown>;
}
