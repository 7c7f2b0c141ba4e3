package remote

import "strings"

// Quote quotes s for a POSIX shell: the result is one word whose value is
// exactly s. Words made only of safe characters are left bare; anything else
// is single-quoted, and each embedded single quote ends the quoted part, is
// escaped with a backslash, and starts a new quoted part.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("_-./:=@%+,", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sudoWrap wraps a script for a non-root user: sudo -n sh -c '<script>'.
func sudoWrap(script string) string {
	return "sudo -n sh -c " + Quote(script)
}
