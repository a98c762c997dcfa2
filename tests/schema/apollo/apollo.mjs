// Sends DOCUMENT with Apollo Client's default InMemoryCache to URL and prints the data the client returns.
// usage: node apollo.mjs URL DOCUMENT [possibleTypes.json]
import { readFileSync } from "node:fs";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";

const [url, document, possibleTypesFile] = process.argv.slice(2);
const cache = possibleTypesFile
  ? new InMemoryCache({ possibleTypes: JSON.parse(readFileSync(possibleTypesFile, "utf8")) })
  : new InMemoryCache();
const client = new ApolloClient({ link: new HttpLink({ uri: url }), cache });
const result = await client.mutate({ mutation: gql(document) });
process.stdout.write(JSON.stringify(result.data) + "\n");
