package blob

import "testing"

func TestFormatSize(t *testing.T) {
	tests := []struct {
		name string
		n    int64
		want string
	}{
		{name: "default limit", n: DefaultLimit, want: "100 MiB"},
		{name: "gibibytes", n: 2 << 30, want: "2 GiB"},
		{name: "not whole mebibytes", n: 1536 << 10, want: "1536 KiB"},
		{name: "plain bytes", n: 1000, want: "1000 bytes"},
		{name: "one byte", n: 1, want: "1 byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatSize(tt.n); got != tt.want {
				t.Errorf("formatSize(%d) = %q; want %q", tt.n, got, tt.want)
			}
		})
	}
}

func TestValidSHA256(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "valid", in: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want: true},
		{name: "upper case", in: "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"},
		{name: "short", in: "ba7816bf"},
		{name: "path", in: "../../../../../../../../../../../../../../../../../../../etc/passwd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidSHA256(tt.in); got != tt.want {
				t.Errorf("ValidSHA256(%q) = %v; want %v", tt.in, got, tt.want)
			}
		})
	}
}
