"""meetgraph: GraphQL API server for connected calendars, scheduling pages and bookings."""
