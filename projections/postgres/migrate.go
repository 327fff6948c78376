package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationsTable is goose's version table, kept inside the migrated schema
// so that every generation records its own migrations.
const migrationsTable = "goose_db_version"

// Migrate creates schema if needed and applies every pending migration
// inside it (goose's version table included). It is safe to run
// concurrently from several processes: a Postgres advisory lock derived
// from the schema name serialises them, and different schemas do not wait
// for each other.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	if schema == "" {
		schema = DefaultSchema
	}
	if err := ValidateSchemaName(schema); err != nil {
		return err
	}
	lockID := migrationLockID(schema)

	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// CREATE SCHEMA IF NOT EXISTS is not safe against itself running
		// concurrently; the transaction lock makes it so.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
		return err
	}); err != nil {
		return fmt.Errorf("migrate %s: create schema: %w", schema, err)
	}

	// Migrations are written unqualified: run them on connections whose
	// search_path is the target schema (a dedicated *sql.DB, so the pool's
	// own connections are never altered).
	connCfg := pool.Config().ConnConfig.Copy()
	if connCfg.RuntimeParams == nil {
		connCfg.RuntimeParams = map[string]string{}
	}
	connCfg.RuntimeParams["search_path"] = schema
	db := stdlib.OpenDB(*connCfg)
	defer db.Close()
	db.SetMaxOpenConns(2)

	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 600))
	if err != nil {
		return fmt.Errorf("migrate %s: %w", schema, err)
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("migrate %s: %w", schema, err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithTableName(schema+"."+migrationsTable),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithLogger(goose.NopLogger()),
	)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", schema, err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", schema, err)
	}
	return nil
}

// migrationLockID derives the advisory lock of one schema's migrations.
func migrationLockID(schema string) int64 {
	return advisoryKey("soma.migrate." + schema)
}
