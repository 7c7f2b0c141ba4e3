package routeros

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// maxWord bounds one word the simulator accepts (RouterOS's own limit is
// larger; no command homelab sends comes near it).
const maxWord = 1 << 20

// appendLength appends RouterOS's length prefix for a word of n bytes:
// 1 to 5 bytes, big-endian, the high bits of the first byte saying how many.
func appendLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n < 0x4000:
		return append(b, byte(n>>8)|0x80, byte(n))
	case n < 0x200000:
		return append(b, byte(n>>16)|0xC0, byte(n>>8), byte(n))
	case n < 0x10000000:
		return append(b, byte(n>>24)|0xE0, byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(b, 0xF0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// errControlByte is a first length byte RouterOS reserves (0xF8 and up).
var errControlByte = errors.New("reserved control byte in word length")

// readLength reads a length prefix.
func readLength(r *bufio.Reader) (int, error) {
	c, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	var extra int
	var n int
	switch {
	case c&0x80 == 0x00:
		return int(c), nil
	case c&0xC0 == 0x80:
		extra, n = 1, int(c&0x3F)
	case c&0xE0 == 0xC0:
		extra, n = 2, int(c&0x1F)
	case c&0xF0 == 0xE0:
		extra, n = 3, int(c&0x0F)
	case c == 0xF0:
		extra, n = 4, 0
	default:
		return 0, errControlByte
	}
	for range extra {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		n = n<<8 | int(b)
	}
	return n, nil
}

// readWord reads one word.
func readWord(r *bufio.Reader) (string, error) {
	n, err := readLength(r)
	if err != nil {
		return "", err
	}
	if n > maxWord {
		return "", fmt.Errorf("word of %d bytes is too long", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", err
	}
	return string(buf), nil
}

// readSentence reads words up to the empty word that ends a sentence.
// Empty sentences are skipped, as RouterOS does.
func readSentence(r *bufio.Reader) ([]string, error) {
	var words []string
	for {
		w, err := readWord(r)
		if err != nil {
			return nil, err
		}
		if w == "" {
			if len(words) == 0 {
				continue
			}
			return words, nil
		}
		words = append(words, w)
	}
}

// encodeSentence returns the bytes of a sentence.
func encodeSentence(words ...string) []byte {
	var b []byte
	for _, w := range words {
		b = appendLength(b, len(w))
		b = append(b, w...)
	}
	return append(b, 0)
}
