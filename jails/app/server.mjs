// A tenant's Node app as jailctl's app server runs it: the default export is a plain Node
// request listener, (req, res) => …, like the callback of http.createServer(). ESM or
// CommonJS (module.exports = (req, res) => …) both work. Each worker process loads it once.
let served = 0;

export default function app(req, res) {
  served++;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end(`hello from a jailed Node app: worker ${process.pid}, uid ${process.getuid()}, request ${served} of this worker\n`);
}
