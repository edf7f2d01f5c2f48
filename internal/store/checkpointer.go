package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"
)

// SQLite's write-ahead log grows with every commit until a checkpoint copies its pages into
// the database file. SQLite runs that checkpoint inside the commit that takes the log past
// 1,000 pages, so that commit also waits for the copy and for a sync of the database
// file. Evident turns the automatic checkpoint off and runs it on a connection of its
// own, in the background, as SQLite's documentation suggests for applications that write
// much: commits then only append to the log and sync it.

// Checkpoint thresholds: a checkpoint runs when the log exceeds walCheckpointBytes, and
// every walCheckpointEvery while the log holds anything.
const (
	walCheckpointBytes = 16 << 20
	walCheckpointEvery = 10 * time.Second
	// walRestartBytes is the log size past which the checkpointer waits for the writer
	// and makes it start the log again from its beginning. A passive checkpoint runs
	// beside the writer, so under steady writes it may never find the whole log copied,
	// which is when SQLite restarts the log; without this the log would grow as long as
	// writes go on.
	walRestartBytes = 256 << 20
	// walSizeLimit is what SQLite truncates the log file to once a checkpoint has
	// emptied it, so that one burst of writes does not keep a large file.
	walSizeLimit = 64 << 20
)

// walCheckpointer checkpoints an SQLite database's write-ahead log in the background.
type walCheckpointer struct {
	db      *sql.DB
	walPath string
	wake    chan struct{}
	stop    context.CancelFunc
	done    chan struct{}
}

// startCheckpointer opens a connection to the database at dsn, path being its file, and
// starts checkpointing.
func startCheckpointer(dsn, path string) (*walCheckpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	ctx, stop := context.WithCancel(context.Background())
	c := &walCheckpointer{db: db, walPath: path + "-wal", wake: make(chan struct{}, 1), stop: stop, done: make(chan struct{})}
	go c.loop(ctx)
	return c, nil
}

// committed tells the checkpointer that the log has grown. It never blocks.
func (c *walCheckpointer) committed() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *walCheckpointer) loop(ctx context.Context) {
	defer close(c.done)
	tick := time.NewTicker(walCheckpointEvery)
	defer tick.Stop()
	for {
		var always bool
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-tick.C:
			always = true
		}
		fi, err := os.Stat(c.walPath)
		if err != nil || fi.Size() == 0 || (!always && fi.Size() < walCheckpointBytes) {
			continue
		}
		// PASSIVE copies what it can without waiting for readers or the writer; RESTART
		// waits for them (up to the busy timeout). A failure (the database busy, say)
		// leaves the pages in the log for the next try; the log stays durable either way.
		mode := "PASSIVE"
		if fi.Size() >= walRestartBytes {
			mode = "RESTART"
		}
		c.db.ExecContext(ctx, `PRAGMA wal_checkpoint(`+mode+`)`)
	}
}

// close stops the checkpointer, runs a last checkpoint and closes its connection.
func (c *walCheckpointer) close() error {
	c.stop()
	<-c.done
	ctx, cancel := context.WithTimeout(context.Background(), sqliteBusyTimeout)
	defer cancel()
	c.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
	return c.db.Close()
}
