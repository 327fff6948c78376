package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// isDataError reports whether err is Postgres refusing the data of a
// statement (SQLSTATE class 22 data exception, 23 integrity constraint
// violation, or 54 program limit exceeded): retrying the same batch cannot
// succeed, so the offending event is looked for.
func isDataError(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || len(pgErr.Code) < 2 {
		return false
	}
	switch pgErr.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}
