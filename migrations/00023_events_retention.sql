-- +goose Up
-- Events retention (webhook.Store.PruneEvents): the oldest numbered events, up to the first one
-- younger than the retention or not yet finished with by every active webhook, are deleted (a
-- prefix of the feed, by seq, so no index beyond seq's is needed). events_horizon remembers the highest seq
-- deleted, so that the change feed can tell a reader whose cursor is older than that it has
-- missed events (410) instead of silently skipping them.
CREATE TABLE events_horizon (
    one            boolean PRIMARY KEY DEFAULT true CHECK (one),
    pruned_through bigint NOT NULL
);

-- +goose Down
DROP TABLE events_horizon;
