# CardDAV pull next to vdirsyncer 0.19 on a Radicale book of 10,000 cards (issue 10): prints
# seconds and requests of an initial sync, a run with nothing changed, one after 1% changed
# remotely and, for contactd (a two-way source), one after 1% changed on each side (pushed),
# then Radicale alone taking the same PUTs from a plain client (the push's floor).
# Needs python3-radicale and vdirsyncer (apt-get) and PostgreSQL at DATABASE_URL.
# CARDDAV_FLAGS passes more flags: -db NAME (the database it recreates), -no-vdirsyncer.
# Targets for contactd: initial ≤ 30 s, incremental ≤ 5 s.
CARDDAV_CARDS ?= 10000

.PHONY: bench-carddav
bench-carddav:
	$(GO) run ./tools/carddavbench -n $(CARDDAV_CARDS) $(CARDDAV_FLAGS)
