package consent

// ReachSQL is the bulk reachability query, for the benchmark's plan.
const ReachSQL = reachSQL
const SimpleSQL = simpleSQL
