package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// A run can take minutes (a large AWS account), far longer than a request should wait.
// "Run now" starts it in the background and waits a little in case it finishes at once,
// then answers with the run as it stands. The run page shows its progress.

// runFinishWait is how long a request waits for a started run to finish.
const runFinishWait = 2 * time.Second

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
	started, done, err := svc.StartConnection(ctx, orgID, connectionID)
	if err != nil {
		return nil, err
	}
	finished := time.NewTimer(runFinishWait)
	defer finished.Stop()
	select {
	case res := <-done:
		if res.Run == nil {
			return nil, res.Err
		}
		return res.Run, nil
	case <-finished.C:
	case <-ctx.Done():
	}
	return st.ConnectionRun(context.WithoutCancel(ctx), orgID, started.ID)
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
