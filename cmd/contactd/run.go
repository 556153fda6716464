package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

const usage = `usage: contactd <command> [flags]

commands:
  serve     run the API and the workers (migrates first; --no-workers: the API only)
  worker    run the workers only (to scale out job processing)
  migrate   create the database if needed and apply every migration
  apikey    create or revoke API keys: apikey create --name N --scopes read,write,admin
  import    import a CSV, NDJSON or vCard file: import --file F [--format] [--source] [--mapping] [--mode]
  export    export contacts: export --format csv|ndjson|vcf [--out F] [filters]
  dedupe    scan every contact for duplicates: dedupe [--wait]
  sync      sync a source now: sync --source ID [--full] [--wait]
  retention run retention policies now: retention [--policy ID] [--dry-run] [--wait]
  train     retrain the matcher on the live contacts
  eval      evaluate the matcher on a labelled data set (eval -h for its flags)
`

// run is the whole program; main and the end-to-end tests call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		say(stderr, "%s", usage)
		return errors.New("no command given")
	}
	if args[0] == "eval" {
		return runEval(ctx, args[1:], stdout, stderr)
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, cfg, rest, stdout, stderr)
	case "worker":
		return runWorker(ctx, cfg, rest, stderr)
	case "migrate":
		return runMigrate(ctx, cfg, rest, stdout)
	case "apikey":
		return runAPIKey(ctx, cfg, rest, stdout)
	case "import":
		return runImport(ctx, cfg, rest, stdout)
	case "export":
		return runExport(ctx, cfg, rest, stdout, stderr)
	case "dedupe":
		return runDedupe(ctx, cfg, rest, stdout)
	case "sync":
		return runSync(ctx, cfg, rest, stdout)
	case "retention":
		return runRetention(ctx, cfg, rest, stdout)
	case "train":
		return runTrain(ctx, cfg, rest, stdout)
	case "help", "-h", "--help":
		say(stdout, "%s", usage)
		return nil
	}
	say(stderr, "%s", usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("contactd "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return nil
}
