// Package localproc runs the system's servers that tests use (mosquitto,
// ejabberd) as child processes on loopback: free ports, a process whose
// end is observed, and the wait for a listener to open. It is for the
// project's tests.
package localproc

import (
	"fmt"
	"net"
	"os/exec"
	"syscall"
	"time"
)

// FreePorts returns n loopback ports that were free a moment ago.
func FreePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Process is a started command whose end is observed.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed
}

// Start starts cmd and observes its end.
func Start(cmd *exec.Cmd) (*Process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Done reports whether the process has ended.
func (p *Process) Done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Err returns how the process ended (cmd.Wait's error); nil while it runs.
func (p *Process) Err() error {
	if !p.Done() {
		return nil
	}
	return p.err
}

// Stop ends the process and returns once it has: with SIGTERM, then
// SIGKILL if it still runs after grace; with a grace of 0, SIGKILL at
// once, as a crash would.
func (p *Process) Stop(grace time.Duration) {
	if grace > 0 {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
			return
		case <-time.After(grace):
		}
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// WaitListening waits until addr accepts a TCP connection, and fails if
// exited (which may be nil) closes first or the deadline passes.
func WaitListening(addr string, deadline time.Time, exited <-chan struct{}) error {
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited before %s opened", addr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not open in time", addr)
		}
	}
}
