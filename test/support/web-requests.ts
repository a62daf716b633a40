/** Raw HTTP and WebSocket requests with chosen headers (Origin, Host), as a foreign site or a rebinding DNS name would send them. */
import { request } from 'node:http';
import WebSocket from 'ws';

/** The status of a GET of `path` on 127.0.0.1:`port` with these headers. */
export function getStatus(port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

/** Opens an MQTT WebSocket with these options: 'open', or the HTTP status it was refused with. */
export function handshake(url: string, options: WebSocket.ClientOptions): Promise<'open' | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['mqtt'], options);
    ws.once('open', () => {
      ws.close();
      resolve('open');
    });
    ws.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', reject);
  });
}
