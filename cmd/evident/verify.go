package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/evidenthq/evident/internal/bundle"
)

// maxKeyFile bounds a key file read for --key; a public key is under a hundred bytes.
const maxKeyFile = 8 << 10

// maxSavedCheckpoint bounds a saved checkpoint read for --checkpoint.
const maxSavedCheckpoint = 64 << 10

func (m *Main) verifyCommand() *command {
	c := newCommand("verify", "FILE.zip", "check an evidence bundle offline",
		`Checks an evidence bundle made by 'evident export evidence' or downloaded from the web
interface, with no database and no network: every file's SHA-256, every ledger entry,
the tree root against the signed checkpoint, the checkpoint's signature, every item's
inclusion proof, and every item's metadata against the ledger entry that recorded it.

--key is the organization's public checkpoint key as Evident shows it (the Ledger page,
or public_key in GET /api/v1/ledger), or a file holding it; without it the bundle's own
key is used, which shows the bundle is intact but not who made it. --checkpoint is a
checkpoint saved earlier (from 'evident ledger checkpoint' or the Ledger page): the
bundle's ledger must hold exactly the entries it signed, so nothing recorded before it
was changed, removed or reordered since.

Exits 0 and prints one line when everything holds; otherwise exits 1 and lists each
problem, naming the item, ledger entry or file and why.`)
	keyFlag := c.flags.String("key", "", "the public key that signs the organization's checkpoints, or a file holding it")
	savedFlag := c.flags.String("checkpoint", "", "a file with a checkpoint of the same ledger saved earlier")
	asJSON := c.flags.Bool("json", false, "print the full report as JSON")
	c.run = func(ctx context.Context, args []string) error {
		path := args[0]
		opts := bundle.VerifyOptions{}
		if *keyFlag != "" {
			k, err := readKeyFlag(*keyFlag)
			if err != nil {
				return err
			}
			if _, err := note.NewVerifier(k); err != nil {
				return usageError{cmd: c.name, msg: "--key: not a public checkpoint key; give the key as Evident shows it (NAME+HASH+KEY), or a file holding it"}
			}
			opts.Key = k
		}
		if *savedFlag != "" {
			b, err := readLimited(*savedFlag, maxSavedCheckpoint)
			if err != nil {
				return fmt.Errorf("--checkpoint: %w", err)
			}
			opts.Saved = string(b)
		}
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("open bundle: %w", err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("open bundle: %w", err)
		}
		if fi.IsDir() {
			return fmt.Errorf("open bundle: %s is a directory; give the bundle's .zip file", path)
		}
		rep, err := bundle.Verify(ctx, f, fi.Size(), opts)
		if err != nil {
			return fmt.Errorf("verify %s: %w", path, err)
		}
		if *asJSON {
			if err := writeJSON(m.Stdout, rep); err != nil {
				return err
			}
		} else if err := writeVerifyReport(m.Stdout, rep); err != nil {
			return err
		}
		if !rep.OK {
			n := len(rep.Problems) + rep.MoreProblems
			return verifyFailed{fmt.Sprintf("%s did not verify: %s", path, plural(n, "problem", "problems"))}
		}
		return nil
	}
	return c
}

// verifyFailed is a bundle that did not verify: the report has been printed, and the
// command exits 1 with this one line on standard error.
type verifyFailed struct{ msg string }

func (e verifyFailed) Error() string { return e.msg }

// writeVerifyReport prints the summary, then each problem on a line of its own, then what
// was not checked.
func writeVerifyReport(w io.Writer, rep *bundle.Report) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, rep.Summary)
	for _, p := range rep.Problems {
		fmt.Fprintf(bw, "  - %s\n", p)
	}
	if rep.MoreProblems > 0 {
		fmt.Fprintf(bw, "  … and %s not listed\n", plural(rep.MoreProblems, "more problem", "more problems"))
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(bw, "Note: %s\n", n)
	}
	return bw.Flush()
}

// readKeyFlag returns the key --key gives: the value itself when it is a public key,
// otherwise the contents of the file it names.
func readKeyFlag(v string) (string, error) {
	if _, err := note.NewVerifier(strings.TrimSpace(v)); err == nil {
		return strings.TrimSpace(v), nil
	}
	b, err := readLimited(v, maxKeyFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", usageError{cmd: "verify", msg: fmt.Sprintf("--key: %q is neither a public checkpoint key (NAME+HASH+KEY) nor a file", v)}
		}
		return "", fmt.Errorf("--key: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// readLimited reads a small file, refusing one over limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes; is it the right file?", path, limit)
	}
	return b, nil
}
