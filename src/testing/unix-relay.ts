// A relay from a Unix socket to a TCP address (argv: socket path, host, port), run inside a network
// namespace: a test process outside the namespace reaches the server's API through the socket file
// (the file system is shared, the network is not) without starting a CLI for every call.
import { connect, createServer } from 'node:net';

const [path, host, port] = process.argv.slice(2) as [string, string, string];
createServer((client) => {
  const upstream = connect(Number(port), host);
  client.pipe(upstream).pipe(client);
  upstream.on('error', () => client.destroy());
  client.on('error', () => upstream.destroy());
}).listen(path, () => process.stdout.write('ready\n'));
