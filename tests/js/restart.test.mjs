// The shipped client and a server restart (close 1012, docs/OPERATIONS.md):
// it reconnects at once, after a short jittered delay, and renews its
// subscriptions; a request in flight when the socket closed rejects with
// reason "disconnected" so the caller can send it again.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";

import { GatewayClient } from "../../gateway/static/gateway/client.js";
import { FakeWebSocket } from "./fake_websocket.mjs";

beforeEach(() => mock.timers.enable({ apis: ["setTimeout"] }));
afterEach(() => mock.timers.reset());

function connected(options) {
  FakeWebSocket.reset();
  const client = new GatewayClient("ws://test/ws/", { WebSocket: FakeWebSocket, ...options });
  client.connect();
  FakeWebSocket.last.accept();
  return client;
}

describe("close 1012 (service restart)", () => {
  test("reconnects within initialDelay, spread by jitter", () => {
    const delays = [];
    for (const draw of [0, 0.25, 0.5, 0.999]) {
      const client = connected({ initialDelay: 200, jitter: 0.5, random: () => draw });
      FakeWebSocket.last.drop(1012, "");
      let waited = 0;
      while (FakeWebSocket.instances.length === 1) {
        mock.timers.tick(1);
        waited += 1;
        assert.ok(waited <= 200, "no reconnect within initialDelay");
      }
      delays.push(waited);
      client.close();
    }
    // Clients restarted together come back spread over half the initial delay.
    assert.deepEqual(delays, [100, 125, 150, 200]);
  });

  test("the close event says it will reconnect; a request in flight rejects as disconnected", async () => {
    const client = connected({ initialDelay: 100, random: () => 0.5 });
    const closes = [];
    client.addEventListener("close", (event) => closes.push(event.detail));
    const inFlight = client.request("books", { action: "list" });
    FakeWebSocket.last.drop(1012, "");
    await assert.rejects(inFlight, (error) => error.reason === "disconnected");
    assert.deepEqual(closes, [{ code: 1012, reason: "", willReconnect: true }]);
    mock.timers.tick(100);
    assert.equal(FakeWebSocket.instances.length, 2);
    client.close();
  });
});
