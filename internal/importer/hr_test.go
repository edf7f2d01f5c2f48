package importer

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/monitor"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func person(id, name string, attrs map[string]any) monitor.Resource {
	return monitor.Resource{Type: "hr.person", ExternalID: id, Name: name, Attributes: attrs}
}

func TestHRSample(t *testing.T) {
	got, sum := importFile(t, "hr", "roster.csv")
	want := []monitor.Resource{
		person("E1001", "Alice Archer", map[string]any{"email": "alice@acme.example", "start_date": day(2024, 1, 8),
			"manager": "carol@acme.example", "department": "Engineering", "employment_type": "full_time", "title": "Engineer"}),
		person("E1002", "Bob Baker", map[string]any{"email": "bob.baker@acme.example", "start_date": day(2023, 6, 19), "end_date": day(2026, 5, 15),
			"manager": "carol@acme.example", "department": "Engineering", "employment_type": "full_time", "title": "Senior Engineer"}),
		person("E1003", "Carol King", map[string]any{"email": "carol@acme.example", "start_date": day(2021, 3, 1),
			"department": "Executive", "employment_type": "full_time", "title": "CTO"}),
		person("E1004", "Dana O'Neil, Jr.", map[string]any{"email": "dana@acme.example", "start_date": day(2026, 2, 2),
			"manager": "carol@acme.example", "department": "Security", "employment_type": "contractor", "title": "Security Consultant"}),
		person("E1005", "Eve Ito", map[string]any{"email": "eve@acme.example", "start_date": day(2026, 6, 1), "end_date": day(2026, 8, 28),
			"manager": "alice@acme.example", "department": "Engineering", "employment_type": "intern", "title": "Engineering Intern"}),
		person("E1006", "Frank Moreau", map[string]any{"email": "frank@acme.example", "start_date": day(2025, 11, 17),
			"manager": "carol@acme.example", "department": "Finance", "employment_type": "part_time", "title": "Accountant"}),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Import(roster) mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Location"}, sum.Ignored); diff != "" {
		t.Errorf("Summary.Ignored mismatch (-want +got):\n%s", diff)
	}
}

func TestHRHeaders(t *testing.T) {
	tests := []struct {
		name, in string
		want     monitor.Resource
	}{
		{"snake case", "name,email,start_date,end_date,manager,department,employment_type\nAlice,alice@acme.example,2024-01-08,,,,\n",
			person("alice@acme.example", "Alice", map[string]any{"email": "alice@acme.example", "start_date": day(2024, 1, 8), "employment_type": "full_time"})},
		{"upper case and spaces", "NAME , E-MAIL ADDRESS,HIRE DATE,Termination Date,Worker Type\nAlice,alice@acme.example,2024-01-08,2025-01-31,Contract\n",
			person("alice@acme.example", "Alice", map[string]any{"email": "alice@acme.example", "start_date": day(2024, 1, 8), "end_date": day(2025, 1, 31), "employment_type": "contractor"})},
		{"first and last name", "First Name,Last Name,Work_Email,Start\nAlice,Archer,Alice@ACME.example,2024-01-08\n",
			person("alice@acme.example", "Alice Archer", map[string]any{"email": "alice@acme.example", "start_date": day(2024, 1, 8), "employment_type": "full_time"})},
		{"employee number", "Employee Number,Display Name,Email,Start Date,Employee Type\n00042,Alice,alice@acme.example,2024-01-08,part time\n",
			person("00042", "Alice", map[string]any{"email": "alice@acme.example", "start_date": day(2024, 1, 8), "employment_type": "part_time"})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := importString(t, "hr", tc.in)
			if err != nil {
				t.Fatalf("Import(%q) = %v", tc.in, err)
			}
			if diff := cmp.Diff([]monitor.Resource{tc.want}, got); diff != "" {
				t.Errorf("Import mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHRBOMAndCRLF(t *testing.T) {
	in := "\uFEFFName,Email,Start Date,End Date\r\nAlice,alice@acme.example,2024-01-08,\r\n\r\n\"Bob\r\nBaker\",bob@acme.example,2023-06-19,2026-05-15\r\nCarol,carol@acme.example,2021-03-01,2026-13-01\r\n"
	_, _, err := importString(t, "hr", in)
	// Line 6: the header, Alice, a blank line, and Bob's name over two lines come first.
	want := `line 6, column End Date: must be a date like 2026-03-31, not "2026-13-01"`
	if err == nil || err.Error() != want {
		t.Fatalf("Import = %v; want %q", err, want)
	}
	got, _, err := importString(t, "hr", strings.Replace(in, "2026-13-01", "2026-03-31", 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].Name != "Bob\nBaker" || got[0].Attributes["email"] != "alice@acme.example" {
		t.Errorf("Import(BOM, CRLF) = %+v", got)
	}
}

func TestHRMalformed(t *testing.T) {
	const h = "name,email,start_date,end_date,manager,department,employment_type,employee_id\n"
	const alice = "Alice,alice@acme.example,2024-01-08,,,,,E1\n"
	checkMalformed(t, "hr", []malformed{
		{"empty", "", "line 1: the file is empty; want a header row with name, email and start date columns"},
		{"no email column", "name,start date\n", "line 1: the header has no email column (also read as: email, work email, email address, work email address); an HR roster has the columns name, email, start date, end date, manager, department and employment type"},
		{"no start column", "name,email\n", "line 1: the header has no start date column (also read as: start date, hire date, date hired, start); an HR roster has the columns name, email, start date, end date, manager, department and employment type"},
		{"no name column", "first name,email,start date\n", "line 1: the header has no name column (or first name and last name); an HR roster has the columns name, email, start date, end date, manager, department and employment type"},
		{"two email columns", "name,email,Work Email,start date\n", "line 1, column Work Email: is a second email column after email"},
		{"no name", h + alice + " ,bob@acme.example,2024-01-08,,,,,E2\n", "line 3, column name: is required"},
		{"no email", h + alice + "Bob,,2024-01-08,,,,,E2\n", "line 3, column email: is required"},
		{"bad email", h + alice + "Bob,bob at acme,2024-01-08,,,,,E2\n", `line 3, column email: must be an email address like alice@example.com, not "bob at acme"`},
		{"display name in email", h + "Bob,Bob <bob@acme.example>,2024-01-08,,,,,E2\n", `line 2, column email: must be an email address like alice@example.com, not "Bob <bob@acme.example>"`},
		{"email without domain", h + "Bob,bob@acme,2024-01-08,,,,,E2\n", `line 2, column email: must be an email address with a domain like example.com, not "bob@acme"`},
		{"duplicate email", h + alice + "Alicia,ALICE@acme.example,2024-01-08,,,,,E2\n", "line 3, column email: alice@acme.example is already on line 2"},
		{"duplicate employee ID", h + alice + "Bob,bob@acme.example,2024-01-08,,,,,E1\n", `line 3, column employee_id: "E1" is already on line 2`},
		{"no start date", h + "Bob,bob@acme.example,,,,,,E2\n", "line 2, column start_date: is required"},
		{"bad start date", h + "Bob,bob@acme.example,01/08/2024,,,,,E2\n", `line 2, column start_date: must be a date like 2026-03-31, not "01/08/2024"`},
		{"bad end date", h + alice + "Bob,bob@acme.example,2024-01-08,2026-02-30,,,,E2\n", `line 3, column end_date: must be a date like 2026-03-31, not "2026-02-30"`},
		{"end before start", h + "Bob,bob@acme.example,2024-01-08,2023-12-31,,,,E2\n", "line 2, column end_date: is before the start date 2024-01-08"},
		{"manager name", h + "Bob,bob@acme.example,2024-01-08,,Carol King,,,E2\n", `line 2, column manager: must be the manager's email address: must be an email address like alice@example.com, not "Carol King"`},
		{"bad employment type", h + "Bob,bob@acme.example,2024-01-08,,,,temp,E2\n", `line 2, column employment_type: must be one of full_time, part_time, contractor, intern, not "temp"`},
		{"quoted name across lines", h + "\"Bob\nBaker\",bob@acme.example,2024-01-08,,,,seasonal,E2\n", `line 3, column employment_type: must be one of full_time, part_time, contractor, intern, not "seasonal"`},
	})
}
