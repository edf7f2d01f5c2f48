package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// A run can take minutes (a large AWS account), far longer than a request should wait.
// "Run now" starts it in the background, waits until it has been claimed (so that its run
// exists and has a page), and a little longer in case it finishes at once, then answers
// with the run as it stands. The run page shows its progress.

// Timings of "Run now".
const (
	// runClaimWait bounds the wait for the run to be claimed and recorded.
	runClaimWait = 10 * time.Second
	// runFinishWait is how long a request waits for a claimed run to finish.
	runFinishWait = 2 * time.Second
	// runPoll is how often the store is asked whether the run has started.
	runPoll = 20 * time.Millisecond
)

// startRun runs a connection in the background and returns its run once it has started,
// finished when it took less than runFinishWait. A connection already running is
// KindConflict.
func (s *Server) startRun(ctx context.Context, orgID, connectionID int64) (*domain.ConnectionRun, error) {
	svc, err := s.collector()
	if err != nil {
		return nil, err
	}
	st, err := s.connStore()
	if err != nil {
		return nil, err
	}
	latest := func() (int64, error) {
		runs, err := st.ConnectionRuns(ctx, orgID, domain.RunFilter{ConnectionID: connectionID, Limit: 1})
		if err != nil || len(runs) == 0 {
			return 0, err
		}
		return runs[0].ID, nil
	}
	before, err := latest()
	if err != nil {
		return nil, err
	}
	type outcome struct {
		run *domain.ConnectionRun
		err error
	}
	done := make(chan outcome, 1)
	// The run outlives the request: it must not end when the browser moves on. Its own
	// timeout bounds it, and a run cut short by a shutdown is recorded as failed.
	runCtx := context.WithoutCancel(ctx)
	go func() {
		run, err := svc.RunConnection(runCtx, orgID, connectionID)
		if err != nil {
			switch {
			case domain.KindOf(err) == domain.KindConflict && run == nil:
			case run != nil:
				s.log.Error("run tests after a connection run", "org_id", orgID, "run_id", run.ID, "err", err)
			default:
				s.log.Error("connection run", "org_id", orgID, "connection_id", connectionID, "err", err)
			}
		}
		done <- outcome{run, err}
	}()

	claimed := time.NewTimer(runClaimWait)
	defer claimed.Stop()
	tick := time.NewTicker(runPoll)
	defer tick.Stop()
	var runID int64
	for runID == 0 {
		select {
		case o := <-done:
			if o.run == nil {
				return nil, o.err
			}
			return o.run, nil
		case <-tick.C:
			id, err := latest()
			if err != nil {
				return nil, err
			}
			if id > before {
				runID = id
			}
		case <-claimed.C:
			return nil, domain.Errorf(domain.KindConflict, "the run did not start within %s; try again in a moment", runClaimWait)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	finished := time.NewTimer(runFinishWait)
	defer finished.Stop()
	select {
	case o := <-done:
		if o.run != nil {
			return o.run, nil
		}
	case <-finished.C:
	case <-ctx.Done():
	}
	return st.ConnectionRun(context.WithoutCancel(ctx), orgID, runID)
}

func (s *Server) runConnection(w http.ResponseWriter, r *http.Request, p *principal) error {
	c, err := s.loadConnection(r, p)
	if err != nil {
		return err
	}
	run, err := s.startRun(r.Context(), p.Org.ID, c.ID)
	if domain.KindOf(err) == domain.KindConflict {
		return s.redirect(w, r, connectionURL(c.ID), upperFirst(domain.MessageOf(err))+".")
	}
	if err != nil {
		return err
	}
	msg := "Started a run of " + c.Name + "."
	if run.Status != domain.RunRunning {
		msg = "Ran " + c.Name + ": " + runStatusLabel(run.Status) + "."
	}
	return s.redirect(w, r, runURL(run), msg)
}

// connectionRunView is the data of a run's page.
type connectionRunView struct {
	Connection connectionRow
	Run        runView
	Evidence   *domain.Evidence
	Now        time.Time
}

func (s *Server) connectionRunPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	c, err := s.loadConnection(r, p)
	if err != nil {
		return err
	}
	st, err := s.connStore()
	if err != nil {
		return err
	}
	runID, err := strconv.ParseInt(r.PathValue("run"), 10, 64)
	if err != nil || runID <= 0 {
		return domain.NotFound("connection run")
	}
	ctx := r.Context()
	run, err := st.ConnectionRun(ctx, p.Org.ID, runID)
	if err != nil {
		return err
	}
	if run.ConnectionID != c.ID {
		return domain.NotFound("connection run")
	}
	v := connectionRunView{Connection: newConnectionRow(*c, 0), Run: newRunView(*run), Now: s.now()}
	if run.EvidenceID != nil {
		if v.Evidence, err = s.cfg.Store.Evidence(ctx, p.Org.ID, *run.EvidenceID); err != nil && !domain.IsNotFound(err) {
			return err
		}
	}
	pg := s.newPage(w, r, p, "Run "+strconv.FormatInt(run.ID, 10)+" of "+c.Name, "connections")
	pg.Data = v
	return s.render(w, http.StatusOK, "connection_run", pg)
}
