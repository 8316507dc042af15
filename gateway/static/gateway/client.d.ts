// Types for client.js, the channels-gateway browser client (docs/CLIENT.md).

/** A frame's payload as the server sends it (consumers built on AsyncAPIConsumer). */
export interface Payload {
  errors?: unknown[];
  data?: unknown;
  action?: string | null;
  response_status?: number;
  request_id?: string | number | boolean | null;
  /** On observer pushes when the observer keeps a history: where this push sits. */
  position?: Position;
  /** On the reply to a renewed subscribe that asked to resume. */
  resume?: ResumeResult;
  /** On subscribe replies of observers with a history: where the subscription starts. */
  positions?: Position[];
  [key: string]: unknown;
}

/** A push's place in its subscription group's history. */
export interface Position {
  /** Names the subscription group (not the group itself). */
  group: string;
  /** Changes when the history is lost (server restarted it, or it expired). */
  epoch: string;
  /** Increases by one per event sent to the group, within an epoch. */
  offset: number;
}

export interface ResumeResult {
  recovered: boolean;
  /** Why not: "expired", "epoch", "unknown" or "disabled"; null when recovered. */
  reason: string | null;
}

/** A hypermedia link: what `follow()` requests. */
export interface Link {
  stream: string;
  payload: Record<string, unknown>;
}

export interface Frame {
  stream: string | null;
  payload: Payload;
}

/** A WebSocket constructor: the browser's, or any compatible one (tests, Node). */
export type WebSocketFactory = new (url: string) => {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code?: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
};

export interface ClientOptions {
  /** Milliseconds to wait for a reply (default 15000); null: wait forever. */
  requestTimeout?: number | null;
  /** First reconnect delay in ms (default 250). */
  initialDelay?: number;
  /** Upper bound of the reconnect delay in ms (default 10000). */
  maxDelay?: number;
  /** Growth of the delay per failed attempt (default 2). */
  factor?: number;
  /** Share of each delay that is random, 0..1 (default 0.5). */
  jitter?: number;
  /** The WebSocket implementation (default: globalThis.WebSocket). */
  WebSocket?: WebSocketFactory;
  /** Random numbers in [0, 1) for jitter and request ids (default Math.random). */
  random?: () => number;
}

export interface RequestOptions {
  /** Overrides ClientOptions.requestTimeout for this request. */
  timeout?: number | null;
}

export interface SubscribeOptions extends RequestOptions {
  /** Every push of the subscription (after de-duplication by position). */
  onEvent?: (payload: Payload, subscription: Subscription) => void;
  /**
   * After a reconnect the subscription was renewed without recovering what was
   * missed (or the server refused to renew it): the caller should reload its
   * view. `reply.data` holds the snapshot when the subscribe asked for one.
   */
  onResync?: (reply: Payload, subscription: Subscription) => void;
  /** The action `unsubscribe()` sends; default: "un" + the subscribe action
   * when it starts with "subscribe"; null: send nothing. */
  unsubscribeAction?: string | null;
}

export declare class GatewayError extends Error {
  readonly stream: string | null;
  /** The server's reply, when there was one. */
  readonly payload: Payload | null;
  /** "response", "timeout", "closed", "disconnected" or "unsubscribed". */
  readonly reason: string;
  /** response_status of the reply; 0 when there was none. */
  readonly status: number;
  readonly errors: unknown[];
}

export declare class Subscription {
  readonly client: GatewayClient;
  readonly stream: string;
  readonly requestId: string;
  readonly action: string;
  /** The subscribe payload (without request_id and resume). */
  readonly payload: Record<string, unknown>;
  /** The last subscribe reply (the first one, or the latest renewal's). */
  readonly reply: Payload | null;
  /** False once unsubscribed or refused. */
  readonly active: boolean;
  /** Last position seen per subscription group. */
  readonly positions: Map<string, { epoch: string; offset: number }>;
  onEvent: SubscribeOptions["onEvent"] | null;
  onResync: SubscribeOptions["onResync"] | null;
  /** Resolves with the server's reply, or null when there was none to send. */
  unsubscribe(): Promise<Payload | null>;
}

export interface ClientEventMap {
  open: CustomEvent<{ reconnected: boolean }>;
  close: CustomEvent<{ code?: number; reason?: string; willReconnect: boolean }>;
  frame: CustomEvent<{ direction: "in" | "out"; frame: Frame }>;
  resubscribed: CustomEvent<{ subscription: Subscription; reply: Payload; recovered: boolean }>;
}

export declare class GatewayClient extends EventTarget {
  constructor(url: string, options?: ClientOptions);
  readonly url: string;
  readonly connected: boolean;
  /** Live subscriptions by request_id. */
  readonly subscriptions: Map<string, Subscription>;
  /** Open the socket; reconnects by itself until close(). */
  connect(): void;
  /** Close for good; pending requests reject with reason "closed". */
  close(code?: number, reason?: string): void;
  /** The delay before reconnect attempt `attempt` (0-based), in ms. */
  reconnectDelay(attempt: number): number;
  /** Resolves with the reply on 2xx; rejects with a GatewayError otherwise. */
  request(stream: string, payload?: Record<string, unknown>, options?: RequestOptions): Promise<Payload>;
  /** request(link.stream, link.payload). */
  follow(link: Link, options?: RequestOptions): Promise<Payload>;
  subscribe(
    stream: string,
    payload: Record<string, unknown>,
    options?: SubscribeOptions | SubscribeOptions["onEvent"],
  ): Promise<Subscription>;
  addEventListener<K extends keyof ClientEventMap>(
    type: K,
    listener: (event: ClientEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
}

export declare function isLink(value: unknown): value is Link;
export declare function isSuccess(payload: unknown): boolean;
