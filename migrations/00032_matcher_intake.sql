-- +goose Up
-- What the batch checks have taken in since a model version was trained (0: the built-in
-- model): the rows they were asked to check, and the profile features (matcher.Model.Profile,
-- named by names) of the profiled ones that were active. A retraining is due when too many rows
-- came in or the profile drifted from the model's (dedupe.RetrainReason).
CREATE TABLE matcher_intake (
    model_version int PRIMARY KEY,
    rows          bigint NOT NULL,
    profiled      bigint NOT NULL,
    names         text[] NOT NULL,
    counts        bigint[] NOT NULL
);

-- +goose Down
DROP TABLE matcher_intake;
