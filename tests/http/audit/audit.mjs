// Runs graphql-http's GraphQL-over-HTTP server audit against the URL given as the only argument and
// prints one JSON line per audit: {"id", "name", "status", "reason"}; the exit code is 0 when it ran.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs http://host:port/graphql');
  process.exit(2);
}
const results = await auditServer({ url });
for (const result of results) {
  const reason = result.status === 'ok' ? null : result.reason;
  console.log(JSON.stringify({ id: result.id, name: result.name, status: result.status, reason }));
}
