/**
 * A WebSocket client for the stream tests: over TLS to a test host's edge by name (SNI + Host, only `ca` trusted), or
 * plain to a loopback port. It records each text frame and how the stream ended: a close frame's code (1012 is
 * "service restart") or a cut without one, and when.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface Stream {
  frames: string[];
  /** Set when the stream ends: the close code (undefined: cut without a close frame) and the time. */
  ended?: { code?: number; at: number };
  close(): void;
}

export function openStream(o: { ip: string; name: string; ca?: string; port?: number; plain?: boolean }): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const port = o.port ?? (o.plain ? 80 : 443);
    const socket: net.Socket = o.plain ? net.connect(port, o.ip) : tls.connect({ host: o.ip, port, servername: o.name, ca: o.ca });
    const stream: Stream = { frames: [], close: () => socket.destroy() };
    let buf = Buffer.alloc(0);
    let open = false;
    let closeCode: number | undefined;
    socket.once(o.plain ? 'connect' : 'secureConnect', () =>
      socket.write(
        `GET /ws HTTP/1.1\r\nHost: ${o.name}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!open) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        if (!/^HTTP\/1\.1 101/.test(head)) return reject(new Error(`no upgrade: ${head.split('\r\n')[0]}`));
        open = true;
        buf = buf.subarray(end + 4);
        resolve(stream);
      }
      // Server frames are unmasked and short here (< 126 bytes).
      while (buf.length >= 2 && buf.length >= 2 + (buf[1]! & 0x7f)) {
        const op = buf[0]! & 0x0f;
        const len = buf[1]! & 0x7f;
        const payload = buf.subarray(2, 2 + len);
        if (op === 1) stream.frames.push(payload.toString());
        if (op === 8) closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : undefined;
        buf = buf.subarray(2 + len);
      }
    });
    socket.on('close', () => {
      stream.ended = { ...(closeCode !== undefined ? { code: closeCode } : {}), at: Date.now() };
      if (!open) reject(new Error('closed before the upgrade'));
    });
    socket.on('error', (err) => {
      if (!open) reject(err);
    });
  });
}
