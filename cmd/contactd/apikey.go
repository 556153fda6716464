package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/contactd/contactd/auth"
	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/webhook"
	"github.com/google/uuid"
)

func runAPIKey(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: contactd apikey create --name N --scopes read,write,admin | apikey revoke --id ID")
	}
	fs := newFlags("apikey "+args[0], stdout)
	switch args[0] {
	case "create":
		name := fs.String("name", "", "a name that says who uses the key")
		scopes := fs.String("scopes", "read", "comma-separated scopes: read, write, admin")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if strings.TrimSpace(*name) == "" {
			return errors.New("apikey create: --name is required")
		}
		sc, err := auth.ParseScopes(*scopes)
		if err != nil {
			return fmt.Errorf("apikey create: --scopes: %w", err)
		}
		a, closeFn, err := openApp(ctx, cfg)
		if err != nil {
			return err
		}
		defer closeFn()
		key, token, err := a.Auth.Create(ctx, *name, sc)
		if err != nil {
			return err
		}
		// The token is shown only here: a failed write must not pass for success.
		if _, err := fmt.Fprintf(stdout, "created API key %s (%s) with scopes %v; the token is shown only once:\n%s\n", key.ID, key.Name, key.Scopes, token); err != nil {
			return fmt.Errorf("apikey create: key %s was created but its token could not be shown (revoke it): %w", key.ID, err)
		}
		return nil
	case "revoke":
		id := fs.String("id", "", "the key's id")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		kid, err := uuid.Parse(*id)
		if err != nil {
			return errors.New("apikey revoke: --id must be a key id")
		}
		a, closeFn, err := openApp(ctx, cfg)
		if err != nil {
			return err
		}
		defer closeFn()
		if err := a.Auth.Revoke(ctx, kid); err != nil {
			return err
		}
		say(stdout, "revoked API key %s\n", kid)
		return nil
	}
	return fmt.Errorf("apikey: unknown subcommand %q (want create or revoke)", args[0])
}

// openApp migrates the database (so the command works on a fresh machine) and wires the stores.
func openApp(ctx context.Context, cfg config) (*app.App, func(), error) {
	pool, err := migrateAndConnect(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	a, err := newApp(pool, cfg)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return a, pool.Close, nil
}

// newApp wires every store over pool with the process's configuration (the secret key, the
// addresses webhooks may reach).
func newApp(pool *pgxpool.Pool, cfg config) (*app.App, error) {
	a, err := app.New(pool)
	if err != nil {
		return nil, err
	}
	a.Sources.SetSealer(cfg.Sealer)
	a.Webhooks.SetSealer(cfg.Sealer)
	a.Webhooks.SetGuard(webhook.Guard{AllowPrivate: cfg.WebhookAllowPrivate})
	a.SetDefaultRegion(cfg.DefaultRegion)
	if cfg.SuppressionKey != "" {
		if err := a.Erasure.Suppressions.SetKey([]byte(cfg.SuppressionKey)); err != nil {
			return nil, fmt.Errorf("CONTACTD_SUPPRESSION_KEY: %w", err)
		}
	}
	return a, nil
}
