// Package embedded is the embedded store of `soma serve` when no external
// service is configured: one SQLite file (pure-Go driver, no cgo) holding
// the event log, the records, the link graph, the vectors, the
// per-namespace counts and the applied positions, plus an in-process
// vector index (internal/vectorindex) loaded from it at start.
//
// A Store is at once:
//   - the log of direct-write mode (Append: commands.EventSink), and the
//     directory the write side asks which memories exist (Existing:
//     commands.Directory);
//   - a projections.Projection fed by the projector when Kafka is
//     configured (Apply), with the same fold rules as the Postgres read
//     model;
//   - the read model of every query port (see queries/embedded).
//
// Atomicity and durability: every Append or Apply call is one SQLite
// transaction (log rows, read-model rows, counts and positions
// together); the vector index is updated after the commit and before the
// new positions become visible, so a reader that waited for a position
// sees its writes in the index too. The file runs in WAL mode; with
// SyncNormal (the default) a committed call survives the process being
// killed at any point, and an OS crash or power loss can lose the last
// commits but never leaves a call half-applied; SyncFull also survives
// power loss.
//
// Concurrency: a Store is safe for concurrent use. Writes (Append, Apply)
// are serialised; reads use a pool of read connections and never wait for
// writes (WAL snapshots). One process at a time may open a data dir.
package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/somafractalmemory/soma/internal/vectorindex"
	"github.com/somafractalmemory/soma/projections"
)

// Store is the embedded store. See the package documentation.
type Store struct {
	cfg  Config
	wdb  *sql.DB // one connection: the only writer
	rdb  *sql.DB // read-only connections
	cdb  *sql.DB // one connection: WAL checkpoints
	lock *os.File
	st   statements

	// wmu serialises writes and guards nextSeq and the fields below it
	// that only writers change.
	wmu      sync.Mutex
	nextSeq  int64
	closed   bool
	isClosed atomic.Bool // closed, for readers that do not take wmu

	// imu guards the index and its model for readers; writers hold wmu
	// too when they change them.
	imu   sync.RWMutex
	model string // model of the index ("" until known)
	dim   int    // dimension of the index (0 until known)
	idx   *vectorindex.Flat

	// pmu guards pos, the applied positions (source → partition →
	// offset), replaced as a whole after each commit.
	pmu      sync.RWMutex
	pos      map[string]map[int32]int64
	advanced chan struct{} // capacity 1; see Advanced

	loadTime time.Duration

	// The checkpointer copies the WAL into the database file off the
	// write path (the writer's automatic checkpoints are off).
	ckKick   chan struct{}
	ckDirty  atomic.Bool
	walBytes int64 // written since the last kick (guarded by wmu)
	ckStop   context.CancelFunc
	ckDone   chan struct{}
}

// checkpointBytes is roughly how much the WAL grows between two
// checkpoints under load; an idle store is checkpointed after
// checkpointEvery.
const (
	checkpointBytes = 8 << 20
	checkpointEvery = time.Second
)

var _ projections.Projection = (*Store)(nil)

// Open opens (creating if needed) the store in cfg.Dir and loads the
// vector index.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if strings.ContainsRune(cfg.Dir, '?') {
		return nil, fmt.Errorf("%w: Dir must not contain '?'", ErrInvalidConfig)
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded store: create data dir: %w", err)
	}
	lock, err := lockDir(filepath.Join(cfg.Dir, lockFile))
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	s := &Store{cfg: cfg, lock: lock, advanced: make(chan struct{}, 1)}
	if err := s.open(ctx); err != nil {
		_ = s.closeDBs() // the open error is the one to report
		unlockDir(lock)
		return nil, fmt.Errorf("embedded store %s: %w", cfg.Dir, err)
	}
	return s, nil
}

// Connection kinds.
const (
	connWriter = iota
	connReader
	connCheckpointer
)

func (s *Store) dsn(kind int) string {
	path := filepath.Join(s.cfg.Dir, DBFile)
	q := []string{
		"_pragma=busy_timeout(" + strconv.FormatInt(s.cfg.BusyTimeout.Milliseconds(), 10) + ")",
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(" + s.cfg.Synchronous + ")",
		"_pragma=cache_size(-16000)",
		// After a checkpoint reset, the WAL file is cut back to 64 MB.
		"_pragma=journal_size_limit(67108864)",
	}
	switch kind {
	case connWriter:
		// Checkpoints run on their own connection (checkpointer).
		q = append(q, "_pragma=wal_autocheckpoint(0)", "_txlock=immediate")
	case connReader:
		q = append(q, "_query_only=1", "_pragma=mmap_size(1099511627776)")
	}
	return path + "?" + strings.Join(q, "&")
}

func (s *Store) open(ctx context.Context) error {
	var err error
	if s.wdb, err = sql.Open("sqlite", s.dsn(connWriter)); err != nil {
		return err
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if err := migrate(ctx, s.wdb); err != nil {
		return err
	}
	if s.rdb, err = sql.Open("sqlite", s.dsn(connReader)); err != nil {
		return err
	}
	s.rdb.SetMaxOpenConns(s.cfg.ReadConns)
	s.rdb.SetMaxIdleConns(s.cfg.ReadConns)
	if s.cdb, err = sql.Open("sqlite", s.dsn(connCheckpointer)); err != nil {
		return err
	}
	s.cdb.SetMaxOpenConns(1)
	s.cdb.SetMaxIdleConns(1)
	if s.st, err = prepare(ctx, s.wdb); err != nil {
		return err
	}
	if s.pos, err = readPositions(ctx, s.wdb); err != nil {
		return err
	}
	var maxSeq sql.NullInt64
	if err := s.wdb.QueryRowContext(ctx, `SELECT max(seq) FROM event_log`).Scan(&maxSeq); err != nil {
		return err
	}
	s.nextSeq = maxSeq.Int64 + 1
	start := time.Now()
	if err := s.loadIndex(ctx); err != nil {
		return fmt.Errorf("load vector index: %w", err)
	}
	s.loadTime = time.Since(start)
	ckCtx, stop := context.WithCancel(context.Background())
	s.ckKick, s.ckStop, s.ckDone = make(chan struct{}, 1), stop, make(chan struct{})
	go s.checkpointer(ckCtx)
	return nil
}

// checkpointer runs a passive WAL checkpoint (it never blocks writers or
// readers) when kicked by a writer, or every checkpointEvery after
// writes, until ctx ends.
func (s *Store) checkpointer(ctx context.Context) {
	defer close(s.ckDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.ckKick:
		case <-t.C:
			if !s.ckDirty.Load() {
				continue
			}
		}
		s.ckDirty.Store(false)
		// A failure (busy) is retried at the next kick or tick.
		_, _ = s.cdb.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
	}
}

// wrote tells the checkpointer that about n bytes were committed. The
// caller holds wmu.
func (s *Store) wrote(n int64) {
	s.ckDirty.Store(true)
	s.walBytes += n
	if s.walBytes >= checkpointBytes {
		s.walBytes = 0
		select {
		case s.ckKick <- struct{}{}:
		default:
		}
	}
}

// readPositions reads every checkpoint.
func readPositions(ctx context.Context, db *sql.DB) (map[string]map[int32]int64, error) {
	rows, err := db.QueryContext(ctx, `SELECT source, partition, "offset" FROM checkpoints`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[int32]int64{}
	for rows.Next() {
		var (
			src  string
			part int32
			off  int64
		)
		if err := rows.Scan(&src, &part, &off); err != nil {
			return nil, err
		}
		if out[src] == nil {
			out[src] = map[int32]int64{}
		}
		out[src][part] = off
	}
	return out, rows.Err()
}

// Close closes the database and releases the data dir. Calls after Close
// return ErrClosed.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.isClosed.Store(true)
	if s.ckStop != nil {
		s.ckStop()
		<-s.ckDone
	}
	err := s.closeDBs()
	unlockDir(s.lock)
	return err
}

func (s *Store) closeDBs() error {
	var errs []error
	if s.st.closer != nil {
		errs = append(errs, s.st.closer())
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.cdb != nil {
		errs = append(errs, s.cdb.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	return errors.Join(errs...)
}

// Name is projections.Embedded.
func (s *Store) Name() string { return projections.Embedded }

// Dir is the data directory.
func (s *Store) Dir() string { return s.cfg.Dir }

// Positions returns the applied offset of every partition of source (the
// positions whose effects are visible to every read, the vector index
// included).
func (s *Store) Positions(ctx context.Context, source string) (map[int32]int64, error) {
	if s.isClosed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.pmu.RLock()
	defer s.pmu.RUnlock()
	return maps.Clone(s.pos[source]), nil
}

// Advanced receives a value (coalesced: the channel holds at most one)
// after positions advanced, that is after every committed Apply or Append
// whose effects are visible to readers, index included. It suits one
// consumer, such as the query side's consistency waiter (its Wake).
func (s *Store) Advanced() <-chan struct{} { return s.advanced }

// IndexModel returns the embedding model and dimension of the vector
// index (empty and 0 while no vector was ever stored and none was
// configured).
func (s *Store) IndexModel() (model string, dim int) {
	s.imu.RLock()
	defer s.imu.RUnlock()
	return s.model, s.dim
}

// IndexLen is the number of vectors in the index.
func (s *Store) IndexLen() int {
	s.imu.RLock()
	idx := s.idx
	s.imu.RUnlock()
	if idx == nil {
		return 0
	}
	return idx.Len()
}

// LoadTime is how long Open took to load the vector index.
func (s *Store) LoadTime() time.Duration { return s.loadTime }
