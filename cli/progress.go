package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/dueq/dueq/tasks"
)

// barWidth is the number of cells of the progress bar.
const barWidth = 30

// progress shows how a wait for several tasks goes. On a terminal it
// redraws one bar in place on stderr:
//
//	[#########.....................] 3/10 done, 1 failed
//
// Elsewhere it prints one "ID STATE" line on stdout per task as it
// finishes, for scripts and logs. stop ends the bar's line with a newline,
// so that what follows (the shell's prompt, an error) starts on a line of
// its own; nothing is drawn after it. It is safe for concurrent use.
type progress struct {
	out, errOut io.Writer
	bar         bool

	mu               sync.Mutex
	total, done      int
	failed, canceled int
	drawn            bool // the bar is on the screen, without its newline
	stopped          bool // stop was called: draw no more
}

// newProgress returns a progress of total tasks, drawing a bar when errOut
// is a terminal.
func newProgress(out, errOut io.Writer, total int) *progress {
	return &progress{out: out, errOut: errOut, bar: isTerminal(errOut), total: total}
}

// isTerminal reports whether w is a terminal (not merely a character
// device: /dev/null is one too).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// start shows the bar before any task has finished.
func (p *progress) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar && !p.stopped {
		p.drawLocked()
	}
}

// finished counts task id, which ended in state st.
func (p *progress) finished(id string, st tasks.State) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	switch st {
	case tasks.Failed:
		p.failed++
	case tasks.Canceled:
		p.canceled++
	}
	if p.bar {
		if !p.stopped {
			p.drawLocked()
		}
		return
	}
	fmt.Fprintf(p.out, "%s %s\n", id, st)
}

// note writes "dueq: msg" on stderr, on a line of its own.
func (p *progress) note(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.errOut)
		p.drawn = false
	}
	fmt.Fprintf(p.errOut, "dueq: %s\n", msg)
	if p.bar && !p.stopped {
		p.drawLocked()
	}
}

// stop ends the bar's line with a newline, if a bar is drawn, and draws no
// more. It is safe to call twice.
func (p *progress) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if p.drawn {
		fmt.Fprintln(p.errOut)
		p.drawn = false
	}
}

func (p *progress) drawLocked() {
	fill := 0
	if p.total > 0 {
		fill = p.done * barWidth / p.total
	}
	line := fmt.Sprintf("\r[%s%s] %d/%d done, %d failed", strings.Repeat("#", fill), strings.Repeat(".", barWidth-fill), p.done, p.total, p.failed)
	if p.canceled > 0 {
		line += fmt.Sprintf(", %d canceled", p.canceled)
	}
	fmt.Fprint(p.errOut, line)
	p.drawn = true
}
