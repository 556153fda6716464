-- +goose Up
-- work_committed_at is set in the transaction of the request's work (a hook db.InTx runs before
-- it commits), so a key whose response was never stored (the process died between the work's
-- commit and storing the response) is known to have done its work: a repeat is told so instead
-- of doing the work again.
ALTER TABLE idempotency_keys ADD COLUMN work_committed_at timestamptz;

-- +goose Down
ALTER TABLE idempotency_keys DROP COLUMN work_committed_at;
