package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Multi-row inserts: event_log and vectors rows are written chunkRows at
// a time (one statement execution instead of chunkRows).
const (
	chunkRows         = 64
	eventColumns      = 10
	vectorColumns     = 7
	recordColumnCount = 13
	putRecordsSQL     = `INSERT OR REPLACE INTO records (namespace, coord_key, coordinate, c0, memory_type, payload, importance,
    importance_norm, embedding_model, created_at, updated_at, version, last_event_id) VALUES `
	insertEventsSQL = `INSERT INTO event_log (seq, source, partition, "offset", event_id, event_type, namespace, coord_key, occurred_at, body) VALUES `
	putVectorsSQL   = `INSERT OR REPLACE INTO vectors (namespace, coord_key, model, memory_type, importance_norm, fields, embedding) VALUES `
)

// valuesSQL is "(?, ...), (?, ...)" for rows rows of cols columns.
func valuesSQL(rows, cols int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

// rowWriter inserts rows with multi-row statements: full chunks through a
// prepared statement, the rest with one ad-hoc statement at flush.
type rowWriter struct {
	ctx  context.Context
	tx   *sql.Tx
	full *sql.Stmt // chunkRows rows
	head string    // the statement up to VALUES
	cols int
	args []any
}

func (w *rowWriter) add(vals ...any) error {
	w.args = append(w.args, vals...)
	if len(w.args) < chunkRows*w.cols {
		return nil
	}
	_, err := w.full.ExecContext(w.ctx, w.args...)
	w.args = w.args[:0]
	return err
}

func (w *rowWriter) flush() error {
	if len(w.args) == 0 {
		return nil
	}
	_, err := w.tx.ExecContext(w.ctx, w.head+valuesSQL(len(w.args)/w.cols, w.cols), w.args...)
	w.args = w.args[:0]
	return err
}

// statements are the prepared statements of the write path (on the
// writer connection); inside a transaction they are used through
// tx.StmtContext, which reuses the connection's prepared form.
type statements struct {
	insertEvent      *sql.Stmt
	getRecord        *sql.Stmt
	putRecord        *sql.Stmt
	deleteRecord     *sql.Stmt
	updateImportance *sql.Stmt
	getVector        *sql.Stmt
	putVector        *sql.Stmt
	deleteVector     *sql.Stmt
	wipeLinksFrom    *sql.Stmt
	wipeLinksTo      *sql.Stmt
	putTombstone     *sql.Stmt
	putLink          *sql.Stmt
	deleteLink       *sql.Stmt
	addCounts        *sql.Stmt
	putCheckpoint    *sql.Stmt
	putMeta          *sql.Stmt

	closer func() error
}

func prepare(ctx context.Context, db *sql.DB) (statements, error) {
	var (
		st   statements
		all  []*sql.Stmt
		errs []error
	)
	p := func(dst **sql.Stmt, query string) {
		s, err := db.PrepareContext(ctx, query)
		if err != nil {
			errs = append(errs, fmt.Errorf("prepare %q: %w", query, err))
			return
		}
		*dst = s
		all = append(all, s)
	}
	p(&st.insertEvent, insertEventsSQL+valuesSQL(chunkRows, eventColumns))
	p(&st.getRecord, `SELECT memory_type, version, payload FROM records WHERE namespace = ? AND coord_key = ?`)
	p(&st.putRecord, putRecordsSQL+valuesSQL(chunkRows, recordColumnCount))
	p(&st.deleteRecord, `DELETE FROM records WHERE namespace = ? AND coord_key = ?`)
	p(&st.updateImportance, `UPDATE records SET payload = ?, importance = ?, importance_norm = ?, version = ?, updated_at = ?,
    last_event_id = ?
WHERE namespace = ? AND coord_key = ?`)
	p(&st.getVector, `SELECT model, memory_type, fields, embedding FROM vectors WHERE namespace = ? AND coord_key = ?`)
	p(&st.putVector, putVectorsSQL+valuesSQL(chunkRows, vectorColumns))
	p(&st.deleteVector, `DELETE FROM vectors WHERE namespace = ? AND coord_key = ?`)
	p(&st.wipeLinksFrom, `DELETE FROM links WHERE namespace = ? AND from_key = ?`)
	// Incoming edges created at or before the delete (self-loops go with
	// the outgoing ones).
	p(&st.wipeLinksTo, `DELETE FROM links WHERE namespace = ? AND to_key = ? AND from_key <> to_key AND created_at <= ?`)
	p(&st.putTombstone, `INSERT INTO tombstones (namespace, coord_key, deleted_at) VALUES (?, ?, ?)
ON CONFLICT (namespace, coord_key) DO UPDATE SET deleted_at = max(deleted_at, excluded.deleted_at)`)
	p(&st.putLink, `INSERT INTO links (namespace, from_key, to_key, link_type, weight, created_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (namespace, from_key, to_key) DO UPDATE SET
    link_type = excluded.link_type, weight = excluded.weight, created_at = excluded.created_at`)
	p(&st.deleteLink, `DELETE FROM links WHERE namespace = ? AND from_key = ? AND to_key = ?`)
	p(&st.addCounts, `INSERT INTO namespace_counts (namespace, total, episodic, semantic) VALUES (?, ?, ?, ?)
ON CONFLICT (namespace) DO UPDATE SET total = total + excluded.total, episodic = episodic + excluded.episodic,
    semantic = semantic + excluded.semantic`)
	p(&st.putCheckpoint, `INSERT INTO checkpoints (source, partition, "offset") VALUES (?, ?, ?)
ON CONFLICT (source, partition) DO UPDATE SET "offset" = excluded."offset"`)
	p(&st.putMeta, `INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`)
	st.closer = func() error {
		var cerrs []error
		for _, s := range all {
			cerrs = append(cerrs, s.Close())
		}
		return errors.Join(cerrs...)
	}
	if err := errors.Join(errs...); err != nil {
		_ = st.closer()
		return statements{}, err
	}
	return st, nil
}
