package vaultclient

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/hashicorp/vault/api"
)

// ConnLost returns a channel that receives when Vault closes or resets one
// of c's connections, or nil (which never receives) for a client that New
// did not build. An idle keep-alive connection is closed by the kernel the
// moment the Vault process dies, so this tells of a crash or restart long
// before the next health check would. A receive may also be an ordinary
// close by Vault: it calls for a look, not for a conclusion. It says nothing
// when a proxy between vault-init and Vault keeps the connection open, nor
// (under TLS) when a peer ends it cleanly: the next check tells then.
func ConnLost(c *api.Client) <-chan struct{} {
	if t, ok := c.CloneConfig().HttpClient.Transport.(*limitedTransport); ok {
		return t.lost
	}
	return nil
}

// watchedConn signals on lost when a read fails for any reason but its own
// Close (net.ErrClosed): the peer closed it, reset it, or it timed out.
type watchedConn struct {
	net.Conn
	lost chan<- struct{}
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		select {
		case c.lost <- struct{}{}:
		default: // one pending signal is enough
		}
	}
	return n, err
}

// limitedTransport fails a reply whose body is larger than max bytes, but
// for a request that Snapshot marked as uncapped.
type limitedTransport struct {
	base http.RoundTripper
	max  int64
	lost chan struct{} // see ConnLost
}

func (t *limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if req.Context().Value(uncapped{}) != nil {
		return resp, nil
	}
	if resp.ContentLength > t.max {
		resp.Body.Close()
		return nil, fmt.Errorf("vault reply to %s is %d bytes, more than the %d allowed", req.URL.Path, resp.ContentLength, t.max)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max, path: req.URL.Path, max: t.max}
	return resp, nil
}

// limitedBody reads at most max bytes, then fails.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	max  int64
	path string
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells a body of exactly max bytes from a longer one.
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n == 0 {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("vault reply to %s is larger than the %d bytes allowed", b.path, b.max)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
