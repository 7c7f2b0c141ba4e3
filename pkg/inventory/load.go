package inventory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"syscall"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize is the largest inventory Load reads (4 MiB). A real lab's
// inventory is a few KiB; anything near this is a mistake (a log, an image,
// a device), refused before it is parsed.
const MaxFileSize = 4 << 20

// Load reads, defaults and validates the inventory at path. The error is a
// *ValidationError listing every problem with its position; warnings come
// back in the Diagnostics with a nil error. Load is LoadContext without a
// deadline.
func Load(path string) (*Inventory, Diagnostics, error) {
	return LoadContext(context.Background(), path)
}

// LoadContext is Load, given up when ctx is done. Only a regular file of at
// most MaxFileSize bytes is read: a FIFO, a device (/dev/zero) or a
// directory is refused with an error naming the path, before any read.
func LoadContext(ctx context.Context, path string) (*Inventory, Diagnostics, error) {
	data, err := readBounded(ctx, path, MaxFileSize)
	if err != nil {
		return nil, nil, fmt.Errorf("read inventory: %w", err)
	}
	// Parsing a large file takes seconds; it is not interruptible, so it
	// runs aside and Load returns as soon as ctx is done.
	type result struct {
		inv   *Inventory
		diags Diagnostics
		err   error
	}
	done := make(chan result, 1)
	go func() {
		inv, diags, err := parse(ctx, path, data)
		done <- result{inv, diags, err}
	}()
	select {
	case r := <-done:
		return r.inv, r.diags, r.err
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("read inventory %s: %w", path, ctx.Err())
	}
}

// readBounded reads the regular file at path, of at most limit bytes.
func readBounded(ctx context.Context, path string, limit int64) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(path, info, limit); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should path turn into a FIFO between the Stat and the
	// Open, opening it does not wait for a writer; the Stat of the open
	// file below then refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := regular(path, info, limit); err != nil {
		return nil, err
	}
	var data []byte
	r := io.LimitReader(f, limit+1)
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		n, err := r.Read(buf)
		data = append(data, buf[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(path, limit)
	}
	return data, nil
}

// regular refuses what is not a regular file or is larger than limit.
func regular(path string, info os.FileInfo, limit int64) error {
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file but %s", path, describeMode(info.Mode()))
	}
	if info.Size() > limit {
		return tooLarge(path, limit)
	}
	return nil
}

func tooLarge(path string, limit int64) error {
	return fmt.Errorf("%s is larger than %d KiB, the most homelab reads: is it the right file?", path, limit>>10)
}

func describeMode(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	default:
		return m.Type().String()
	}
}

// Parse is Load for an inventory held in memory; path is used in messages
// (and file: references are read as Load reads them).
func Parse(path string, data []byte) (*Inventory, Diagnostics, error) {
	return parse(context.Background(), path, data)
}

func parse(ctx context.Context, path string, data []byte) (*Inventory, Diagnostics, error) {
	if len(data) > MaxFileSize {
		diags := Diagnostics{{Pos: Pos{File: path, Line: 1, Col: 1}, Field: "(document)", Message: fmt.Sprintf("larger than %d MiB, the most an inventory may be", MaxFileSize>>20)}}
		return nil, diags, diags.Err()
	}
	sum := sha256.Sum256(data)
	d := &decoder{file: path, positions: map[string]Pos{}}
	inv := &Inventory{}
	inv.Source = Source{Path: path, Digest: "sha256:" + hex.EncodeToString(sum[:]), positions: d.positions}

	// yaml.v3 does not expand aliases into a yaml.Node (and refuses
	// excessive aliasing), and the decoder refuses every alias, so an
	// alias bomb costs no more than its own bytes.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		diags := Diagnostics{{Pos: Pos{File: path, Line: 1, Col: 1}, Field: "(document)", Message: err.Error()}}
		return nil, diags, diags.Err()
	}
	if len(doc.Content) == 0 {
		diags := Diagnostics{{Pos: Pos{File: path, Line: 1, Col: 1}, Field: "(document)", Message: "the inventory is empty"}}
		return nil, diags, diags.Err()
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("read inventory %s: %w", path, err)
	}
	d.decodeStruct(doc.Content[0], reflect.ValueOf(inv).Elem(), "", 0)
	if len(d.diags) > 0 {
		d.diags.sort()
		return nil, d.diags, d.diags.Err()
	}
	diags := resolveKeys(ctx, inv)
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("read inventory %s: %w", path, err)
	}
	applyDefaults(inv)
	diags = append(diags, validate(inv)...)
	diags.sort()
	if err := diags.Err(); err != nil {
		return nil, diags, err
	}
	return inv, diags, nil
}
