package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one subcommand: its name as typed, its help, its flags and what it does.
type command struct {
	name     string // as typed after "evident", such as "org create"
	args     string // the positional arguments in the synopsis, such as "SLUG"
	summary  string // one line for the list of commands
	help     string // what it does, in a paragraph or two
	flags    *flag.FlagSet
	nargs    int // how many positional arguments it takes, exactly
	argNames []string
	run      func(ctx context.Context, args []string) error
}

// checkArgs checks the number of positional arguments.
func (c *command) checkArgs(args []string) error {
	switch {
	case len(args) < c.nargs:
		return usageError{cmd: c.name, msg: fmt.Sprintf("missing %s", c.argNames[len(args)])}
	case len(args) > c.nargs:
		return usageError{cmd: c.name, msg: fmt.Sprintf("unexpected argument %q", args[c.nargs])}
	}
	return nil
}

// newCommand starts a command with an empty flag set that reports errors to its caller
// instead of printing them.
func newCommand(name, args, summary, help string) *command {
	fs := flag.NewFlagSet("evident "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	c := &command{name: name, args: args, summary: summary, help: help, flags: fs}
	for _, a := range strings.Fields(args) {
		if strings.HasPrefix(a, "[") {
			break
		}
		c.argNames = append(c.argNames, a)
	}
	c.nargs = len(c.argNames)
	return c
}

// commands lists every command in the order the help shows them, its flags bound to
// m.Config and to the command's own options.
func (m *Main) commands() []*command {
	return []*command{
		m.serveCommand(),
		m.demoCommand(),
		m.migrateCommand(),
		m.orgCreateCommand(),
		m.orgListCommand(),
		m.userCreateCommand(),
		m.tokenCreateCommand(),
		m.evidenceAddCommand(),
		m.evidenceListCommand(),
		m.ledgerCheckpointCommand(),
		m.exportEvidenceCommand(),
		m.importCommand(),
		m.testRunCommand(),
		m.collectCommand(),
		m.verifyCommand(),
		m.catalogCommand(),
		m.readinessCommand(),
		m.versionCommand(),
	}
}

// groups are the commands that take a second word.
var groups = map[string]bool{"org": true, "user": true, "token": true, "evidence": true, "ledger": true, "export": true, "test": true}

// findCommand finds the command the arguments name and returns the arguments after its name.
func (m *Main) findCommand(args []string) (*command, []string, error) {
	name, rest := args[0], args[1:]
	if groups[name] {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			return nil, nil, usageError{msg: fmt.Sprintf("%q needs a subcommand: %s", name, strings.Join(m.subcommands(name), ", "))}
		}
		name, rest = name+" "+rest[0], rest[1:]
	}
	for _, c := range m.commands() {
		if c.name == name {
			return c, rest, nil
		}
	}
	return nil, nil, usageError{msg: fmt.Sprintf("unknown command %q", name)}
}

// subcommands lists the second words a group takes.
func (m *Main) subcommands(group string) []string {
	var out []string
	for _, c := range m.commands() {
		if g, sub, ok := strings.Cut(c.name, " "); ok && g == group {
			out = append(out, sub)
		}
	}
	return out
}

// help prints the list of commands, or one command's help, to Stdout.
func (m *Main) help(args []string) error {
	if len(args) == 0 {
		m.printUsage(m.Stdout)
		return flag.ErrHelp
	}
	c, rest, err := m.findCommand(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{msg: fmt.Sprintf("unknown command %q", strings.Join(args, " "))}
	}
	m.printCommandHelp(m.Stdout, c)
	return flag.ErrHelp
}

// printUsage prints the list of commands.
func (m *Main) printUsage(w io.Writer) {
	var b bytes.Buffer
	b.WriteString(`Evident is a self-hosted SOC 2 compliance platform.

Usage:
  evident COMMAND [flags] [arguments]

Commands:
`)
	cmds := m.commands()
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.name))
	}
	for _, c := range cmds {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, c.name, c.summary)
	}
	b.WriteString(`
Every command that opens the database takes --data and --database, also set by
EVIDENT_DATA and EVIDENT_DATABASE; 'evident verify' needs neither, nor a network.
Run 'evident help COMMAND' for a command's flags.
`)
	_, _ = w.Write(b.Bytes())
}

// printCommandHelp prints one command's synopsis, description and flags.
func (m *Main) printCommandHelp(w io.Writer, c *command) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Usage:\n  evident %s", c.name)
	if c.args != "" {
		fmt.Fprintf(&b, " %s", c.args)
	}
	hasFlags := false
	c.flags.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		b.WriteString(" [flags]")
	}
	fmt.Fprintf(&b, "\n\n%s\n", indent(c.help, ""))
	if hasFlags {
		b.WriteString("\nFlags:\n")
		printFlags(&b, c.flags)
	}
	_, _ = w.Write(b.Bytes())
}

// printFlags lists a command's flags with two dashes, as the help and the README write them.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if kind != "" {
			line += " " + kind
		}
		fmt.Fprintf(w, "%s\n        %s", line, usage)
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "0s" {
			fmt.Fprintf(w, " (default %s)", d)
		}
		fmt.Fprintln(w)
	})
}

// parseInterspersed parses flags that may come before, between or after the positional
// arguments, as in "org create acme --name Acme", and returns the positional arguments.
// Everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// plural writes n and the noun, in its plural form unless n is 1.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}
