package importer

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// trivyResult is one element of a Trivy report's Results: one target (an OS, a lock file, a
// Dockerfile…) with what was found in it.
type trivyResult struct {
	Target          string `json:"Target"`
	Class           string `json:"Class"`
	Type            string `json:"Type"`
	Vulnerabilities []struct {
		VulnerabilityID  string `json:"VulnerabilityID"`
		PkgID            string `json:"PkgID"`
		PkgName          string `json:"PkgName"`
		PkgPath          string `json:"PkgPath"`
		InstalledVersion string `json:"InstalledVersion"`
		FixedVersion     string `json:"FixedVersion"`
		Status           string `json:"Status"`
		Title            string `json:"Title"`
		Description      string `json:"Description"`
		Severity         string `json:"Severity"`
		PrimaryURL       string `json:"PrimaryURL"`
	} `json:"Vulnerabilities"`
	Misconfigurations []struct {
		Type          string `json:"Type"`
		ID            string `json:"ID"`
		AVDID         string `json:"AVDID"`
		Title         string `json:"Title"`
		Description   string `json:"Description"`
		Message       string `json:"Message"`
		Resolution    string `json:"Resolution"`
		Severity      string `json:"Severity"`
		PrimaryURL    string `json:"PrimaryURL"`
		Status        string `json:"Status"`
		CauseMetadata struct {
			Resource  string `json:"Resource"`
			Provider  string `json:"Provider"`
			Service   string `json:"Service"`
			StartLine int    `json:"StartLine"`
		} `json:"CauseMetadata"`
	} `json:"Misconfigurations"`
	Secrets []struct {
		RuleID    string `json:"RuleID"`
		Category  string `json:"Category"`
		Severity  string `json:"Severity"`
		Title     string `json:"Title"`
		StartLine int    `json:"StartLine"`
		EndLine   int    `json:"EndLine"`
	} `json:"Secrets"`
}

// trivyReport holds the report fields read before Results.
type trivyReport struct {
	artifact, artifactType string
	created                time.Time
	known                  bool // SchemaVersion or ArtifactName was seen
}

// importTrivy reads a Trivy JSON report. The top-level object is walked key by key and each
// result is decoded whole. Trivy writes SchemaVersion, CreatedAt, ArtifactName and
// ArtifactType before Results; those that come after Results are not applied to it.
func importTrivy(p *run, in *lineReader) error {
	s := newJSONStream(in)
	t, err := s.start("a Trivy JSON report (trivy … --format json)")
	if err != nil {
		return err
	}
	if !isDelim(t, '{') {
		return &Error{Line: s.in.lineAt(s.dec.InputOffset() - 1),
			Msg: "a Trivy report is a JSON object with SchemaVersion, ArtifactName and Results, not " + tokenKind(t)}
	}
	rep := trivyReport{created: p.now}
	err = s.objectBody(func(key string) error {
		line := s.begin()
		switch key {
		case "SchemaVersion":
			var v int
			if err := s.decodeAs(key, &v); err != nil {
				return err
			}
			if v != 2 {
				return errorf(line, "SchemaVersion", "must be 2 (Trivy 0.20 and later), not %d", v)
			}
			rep.known = true
			return nil
		case "CreatedAt":
			var v string
			if err := s.decodeAs(key, &v); err != nil {
				return err
			}
			t, err := parseISOTime(clean(v))
			if err != nil {
				return errorf(line, "CreatedAt", "%v", err)
			}
			rep.created = t
			return nil
		case "ArtifactName":
			rep.known = true
			return s.decodeAs(key, &rep.artifact)
		case "ArtifactType":
			return s.decodeAs(key, &rep.artifactType)
		case "Results":
			if !rep.known {
				return errorf(line, "Results", "comes before SchemaVersion and ArtifactName; is this a Trivy JSON report?")
			}
			return s.array("Results", func(line int) error {
				var r trivyResult
				if err := s.decode(&r); err != nil {
					return err
				}
				return r.emit(p, &rep, line)
			})
		}
		return s.skip()
	})
	if err != nil {
		return err
	}
	if !rep.known {
		return &Error{Line: 1, Msg: "not a Trivy report: the object has no SchemaVersion or ArtifactName"}
	}
	return s.end()
}

// emit turns one result's vulnerabilities, misconfigurations and secrets into findings.
func (r *trivyResult) emit(p *run, rep *trivyReport, line int) error {
	target := clean(r.Target)
	artifact := firstNonEmpty(rep.artifact, target)
	// Where the finding is: the target, prefixed by the artifact unless the target already
	// names it (as OS package targets do: "IMAGE (alpine 3.19.1)").
	where := artifact
	if target != "" && target != artifact {
		where = target
		if !strings.HasPrefix(target, artifact) {
			where = artifact + ":" + target
		}
	}
	base := finding{source: "trivy", resourceID: artifact, resourceType: clean(rep.artifactType), observed: rep.created}
	for i, v := range r.Vulnerabilities {
		field := fmt.Sprintf("Vulnerabilities[%d]", i)
		f := base
		f.checkID = clean(v.VulnerabilityID)
		if f.checkID == "" {
			return errorf(line, field+".VulnerabilityID", "is required")
		}
		sev, err := trivySeverity(line, field, v.Severity)
		if err != nil {
			return err
		}
		f.severity = sev
		f.status = "fail"
		if strings.EqualFold(clean(v.Status), "not_affected") {
			f.status = "pass"
		}
		f.pkg = firstNonEmpty(v.PkgName, v.PkgID)
		f.installed = clean(v.InstalledVersion)
		f.fixed = clean(v.FixedVersion)
		f.title = firstNonEmpty(v.Title, f.checkID)
		pkgKey := firstNonEmpty(v.PkgID, joinNonEmpty("@", f.pkg, f.installed))
		if path := clean(v.PkgPath); path != "" {
			pkgKey = path + ":" + pkgKey
		}
		f.message = joinNonEmpty(" ", fmt.Sprintf("%s %s in %s.", firstNonEmpty(f.pkg, "A package"), firstNonEmpty(f.installed, "(version unknown)"), firstNonEmpty(target, artifact)), vulnFix(f.fixed, v.Status))
		f.remediation = remediation(fixAdvice(f.pkg, f.fixed), []string{v.PrimaryURL})
		f.id = "trivy:" + f.checkID + ":" + where + ":" + pkgKey
		f.name = f.checkID + " in " + firstNonEmpty(f.pkg, target, artifact)
		if err := p.put(line, f.resource()); err != nil {
			return err
		}
	}
	for i, m := range r.Misconfigurations {
		field := fmt.Sprintf("Misconfigurations[%d]", i)
		f := base
		f.checkID = firstNonEmpty(m.AVDID, m.ID)
		if f.checkID == "" {
			return errorf(line, field+".ID", "is required")
		}
		sev, err := trivySeverity(line, field, m.Severity)
		if err != nil {
			return err
		}
		f.severity = sev
		switch st := clean(m.Status); strings.ToUpper(st) {
		case "FAIL", "":
			f.status = "fail"
		case "PASS":
			f.status = "pass"
		case "EXCEPTION":
			f.status = "skip"
		default:
			return errorf(line, field+".Status", "must be PASS, FAIL or EXCEPTION, not %q", st)
		}
		f.title = firstNonEmpty(m.Title, f.checkID)
		f.message = firstNonEmpty(m.Message, m.Description)
		f.remediation = remediation(m.Resolution, []string{m.PrimaryURL})
		f.resourceID = firstNonEmpty(target, artifact)
		f.resourceType = firstNonEmpty(m.Type, r.Type)
		cause := clean(m.CauseMetadata.Resource)
		if cause == "" && m.CauseMetadata.StartLine > 0 {
			cause = "line " + strconv.Itoa(m.CauseMetadata.StartLine)
		}
		f.id = "trivy:" + f.checkID + ":" + where
		if cause != "" {
			f.id += ":" + cause
			f.name = f.title + " (" + cause + ")"
		}
		if err := p.put(line, f.resource()); err != nil {
			return err
		}
	}
	for i, sec := range r.Secrets {
		field := fmt.Sprintf("Secrets[%d]", i)
		f := base
		f.checkID = clean(sec.RuleID)
		if f.checkID == "" {
			return errorf(line, field+".RuleID", "is required")
		}
		sev, err := trivySeverity(line, field, sec.Severity)
		if err != nil {
			return err
		}
		f.severity = sev
		f.status = "fail"
		f.title = firstNonEmpty(sec.Title, f.checkID)
		f.resourceID = firstNonEmpty(target, artifact)
		f.resourceType = "secret"
		loc := firstNonEmpty(target, artifact)
		if sec.StartLine > 0 {
			loc += " line " + strconv.Itoa(sec.StartLine)
		}
		f.message = "A secret (" + firstNonEmpty(sec.Category, f.checkID) + ") is stored in " + loc + "."
		f.remediation = "Revoke and rotate the secret, then remove it from the file and its history."
		f.id = "trivy:" + f.checkID + ":" + where + ":" + strconv.Itoa(sec.StartLine)
		f.name = f.title + " in " + loc
		if err := p.put(line, f.resource()); err != nil {
			return err
		}
	}
	return nil
}

// trivySeverity maps CRITICAL, HIGH, MEDIUM, LOW and UNKNOWN.
func trivySeverity(line int, field, s string) (string, error) {
	if clean(s) == "" {
		return "info", nil
	}
	v, ok := severity(s)
	if !ok {
		return "", errorf(line, field+".Severity", "must be CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN, not %q", clean(s))
	}
	return v, nil
}

func vulnFix(fixed, status string) string {
	if fixed != "" {
		return "Fixed in " + fixed + "."
	}
	switch strings.ToLower(clean(status)) {
	case "will_not_fix":
		return "The vendor will not fix it."
	case "fix_deferred":
		return "The vendor has deferred a fix."
	case "end_of_life":
		return "The package is end of life."
	}
	return "No fix is available yet."
}

func fixAdvice(pkg, fixed string) string {
	if fixed == "" {
		return "No fixed version exists yet: mitigate, remove the package, or accept the risk with an expiry."
	}
	return "Upgrade " + firstNonEmpty(pkg, "the package") + " to " + fixed + " or later."
}

// joinNonEmpty joins the non-blank parts with sep.
func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = clean(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
