/**
 * The deterministic-simulation toolkit, public as `netstack/testing`: seeded randomness, fake
 * bindings with a virtual clock, and a fake network of hosts joined by impaired links.
 */
export type { FakeBindingsOptions, SentFrame, TimerHost } from "./fake-bindings.ts";
export { FakeBindings, FakeClock } from "./fake-bindings.ts";
export type {
  Endpoint,
  FakeNetworkOptions,
  LinkOptions,
  LinkStats,
  SegmentOptions,
  SimHost,
  Tap,
  TapRecord,
} from "./fake-network.ts";
export { FakeNetwork, Link, POISON } from "./fake-network.ts";
export { Rng } from "./rng.ts";
