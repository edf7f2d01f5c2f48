package github

import (
	"context"
	"fmt"
	"strconv"

	gh "github.com/google/go-github/v75/github"
)

// collectPullRequests reports the pull requests of a repository merged within the window,
// each with who merged it and its submitted reviews.
func (r *run) collectPullRequests(ctx context.Context, owner, name, full, defaultBranch string) error {
	since := r.now.AddDate(0, 0, -r.cfg.PullRequestDays)
	// Closed pull requests, most recently updated first: a merge updates the pull request,
	// so the first one updated before the window ends the search.
	opts := &gh.PullRequestListOptions{State: "closed", Sort: "updated", Direction: "desc"}
	opts.PerPage = perPage
	for {
		page, resp, err := r.gh.PullRequests.List(ctx, owner, name, opts)
		if err != nil {
			return fmt.Errorf("list pull requests: %w", err)
		}
		for _, pr := range page {
			if pr.GetUpdatedAt().Before(since) {
				return nil
			}
			merged := pr.GetMergedAt()
			if merged.IsZero() || merged.Before(since) {
				continue
			}
			if err := r.addPullRequest(ctx, owner, name, full, defaultBranch, pr.GetNumber()); err != nil {
				return err
			}
		}
		if resp == nil || resp.NextPage == 0 {
			return nil
		}
		opts.Page = resp.NextPage
	}
}

// addPullRequest reads one merged pull request in full (the list leaves out who merged it)
// and its reviews.
func (r *run) addPullRequest(ctx context.Context, owner, name, full, defaultBranch string, number int) error {
	pr, _, err := r.gh.PullRequests.Get(ctx, owner, name, number)
	if err != nil {
		return fmt.Errorf("pull request #%d: %w", number, err)
	}
	opts := &gh.ListOptions{}
	reviews, err := list(opts, func() ([]*gh.PullRequestReview, *gh.Response, error) {
		return r.gh.PullRequests.ListReviews(ctx, owner, name, number, opts)
	})
	if err != nil {
		return fmt.Errorf("reviews of pull request #%d: %w", number, err)
	}
	submitted := make([]map[string]any, 0, len(reviews))
	for _, rv := range reviews {
		// Pending reviews are drafts, visible to their author only, and never submitted.
		at := rv.GetSubmittedAt()
		if at.IsZero() || rv.GetState() == "PENDING" {
			continue
		}
		submitted = append(submitted, map[string]any{
			"reviewer":     login(rv.GetUser()),
			"state":        rv.GetState(),
			"submitted_at": at.UTC(),
		})
	}
	labels := make([]string, 0, len(pr.Labels))
	for _, l := range pr.Labels {
		labels = append(labels, l.GetName())
	}
	attrs := map[string]any{
		"repository":     full,
		"number":         int64(number),
		"title":          pr.GetTitle(),
		"author":         login(pr.GetUser()),
		"base_branch":    pr.GetBase().GetRef(),
		"default_branch": defaultBranch,
		"created_at":     pr.GetCreatedAt().UTC(),
		"reviews":        submitted,
		"labels":         labels,
	}
	if t := pr.GetMergedAt(); !t.IsZero() {
		attrs["merged_at"] = t.UTC()
	}
	if pr.MergedBy != nil {
		attrs["merged_by"] = login(pr.MergedBy)
	}
	if sha := pr.GetMergeCommitSHA(); sha != "" {
		attrs["merge_commit_sha"] = sha
	}
	id := full + "#" + strconv.Itoa(number)
	r.add(TypePullRequest, id, id, attrs)
	return nil
}
