/**
 * A WHATWG-streams view of a TCP connection: `{ readable, writable }` of `Uint8Array`s, the shape
 * browser code (and `fetch`-style libraries) consume, with backpressure carried through:
 *
 * - `readable` pauses the socket once its queue reaches its high-water mark (64 KiB), and resumes it
 *   when the consumer pulls; while paused, data stays in TCP and the window closes.
 * - `writable`'s write promise resolves when TCP's send buffer has taken the chunk, so a writer that
 *   awaits `writer.ready` / `write()` never queues more than the buffer holds.
 * - `writable.close()` sends a FIN after the queued data (half-close); `abort()` and
 *   `readable.cancel()` reset the connection.
 */
import { ByteLengthQueuingStrategy, ReadableStream, WritableStream } from "node:stream/web";
import type { Socket, TcpConnectOptions } from "./net.ts";
import type { NodeStack } from "./node-stack.ts";

/** A connection as web streams, with its endpoints. */
export interface WebConnection {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  /** The underlying socket. */
  socket: Socket;
}

/** Queue bound of each direction, bytes. */
const HIGH_WATER = 65536;

/** Wrap a (connecting or connected) socket. */
export function toWebStreams(socket: Socket): WebConnection {
  let done = false;
  const readable = new ReadableStream<Uint8Array>(
    {
      start(ctrl) {
        socket.on("data", (d: Buffer) => {
          if (done) return;
          ctrl.enqueue(new Uint8Array(d.buffer, d.byteOffset, d.length));
          if ((ctrl.desiredSize ?? 0) <= 0) socket.pause();
        });
        socket.once("end", () => {
          if (done) return;
          done = true;
          ctrl.close();
        });
        socket.once("error", (e: Error) => {
          if (done) return;
          done = true;
          ctrl.error(e);
        });
        socket.once("close", () => {
          if (done) return;
          done = true;
          ctrl.error(Object.assign(new Error("connection closed"), { code: "ECONNABORTED" }));
        });
      },
      pull() {
        socket.resume();
      },
      cancel() {
        done = true;
        socket.resetAndDestroy();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: HIGH_WATER }),
  );
  const writable = new WritableStream<Uint8Array>(
    {
      write(chunk) {
        return new Promise<void>((resolve, reject) => {
          const onClose = (): void => reject(Object.assign(new Error("connection closed"), { code: "EPIPE" }));
          socket.once("close", onClose);
          socket.write(chunk, (err) => {
            socket.removeListener("close", onClose);
            if (err) reject(err);
            else resolve();
          });
        });
      },
      close() {
        return new Promise<void>((resolve, reject) => {
          socket.once("error", reject);
          socket.end(() => {
            socket.removeListener("error", reject);
            resolve();
          });
        });
      },
      abort() {
        socket.resetAndDestroy();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: HIGH_WATER }),
  );
  return {
    readable,
    writable,
    get remoteAddress() {
      return socket.remoteAddress;
    },
    get remotePort() {
      return socket.remotePort;
    },
    get localAddress() {
      return socket.localAddress;
    },
    get localPort() {
      return socket.localPort;
    },
    socket,
  };
}

/** Connect and resolve with the web-streams view once established (rejects with the Node error). */
export function connectWeb(stack: NodeStack, options: TcpConnectOptions): Promise<WebConnection> {
  return new Promise((resolve, reject) => {
    const s = stack.net.createConnection({ allowHalfOpen: true, ...options });
    const onError = (e: Error): void => reject(e);
    s.once("error", onError);
    s.once("connect", () => {
      s.removeListener("error", onError);
      resolve(toWebStreams(s));
    });
  });
}
