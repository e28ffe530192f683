//go:build !js

package mqttgame_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// testCA is a certificate authority made for one test run.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mqttgame test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// serverCert issues a certificate for the given names, valid from notBefore
// to notAfter.
func (ca *testCA) serverCert(t *testing.T, ips []net.IP, dns []string, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "broker"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  ips,
		DNSNames:     dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func tlsBroker(t *testing.T, cert tls.Certificate) *broker.Broker {
	return startBroker(t, &broker.Options{
		TCPAddr:   "127.0.0.1:0",
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
	})
}

// TestTLSVerifiesCertificates: wss:// and mqtts:// check the broker's
// certificate by default, refuse an unknown authority, a wrong host name
// and an expired certificate, and connect once given the CA.
func TestTLSVerifiesCertificates(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	now := time.Now()
	good := tlsBroker(t, ca.serverCert(t, loopback, nil, now.Add(-time.Hour), now.Add(time.Hour)))
	wrongHost := tlsBroker(t, ca.serverCert(t, nil, []string{"elsewhere.example"}, now.Add(-time.Hour), now.Add(time.Hour)))
	expired := tlsBroker(t, ca.serverCert(t, loopback, nil, now.Add(-2*time.Hour), now.Add(-time.Hour)))
	for _, b := range []*broker.Broker{good, wrongHost, expired} {
		if !strings.HasPrefix(b.URL(), "wss://") || !strings.HasPrefix(b.TCPURL(), "mqtts://") {
			t.Fatalf("TLS broker URLs %s and %s", b.URL(), b.TCPURL())
		}
	}

	refusals := []struct {
		name   string
		b      *broker.Broker
		pool   *x509.CertPool
		target any
	}{
		{"unknown authority", good, nil, new(x509.UnknownAuthorityError)},
		{"wrong host name", wrongHost, ca.pool, new(x509.HostnameError)},
		{"expired", expired, ca.pool, new(x509.CertificateInvalidError)},
	}
	for _, tc := range refusals {
		for _, url := range []string{tc.b.URL(), tc.b.TCPURL()} {
			t.Run(tc.name+"/"+url[:strings.Index(url, ":")], func(t *testing.T) {
				c := newClient(t, url, func(o *mqttgame.Options) {
					if tc.pool != nil {
						o.TLSConfig = &tls.Config{RootCAs: tc.pool}
					}
					o.ReconnectDelay = time.Hour
				})
				c.Connect()
				tickUntil(t, "refusal", c.ConnectFailed, c)
				err := c.Err()
				if !errors.Is(err, mqttgame.ErrUnreachable) {
					t.Errorf("Err() = %v, want ErrUnreachable", err)
				}
				switch target := tc.target.(type) {
				case *x509.UnknownAuthorityError:
					if !errors.As(err, target) {
						t.Errorf("Err() = %v, want an x509.UnknownAuthorityError", err)
					}
				case *x509.HostnameError:
					if !errors.As(err, target) {
						t.Errorf("Err() = %v, want an x509.HostnameError", err)
					}
				case *x509.CertificateInvalidError:
					if !errors.As(err, target) || target.Reason != x509.Expired {
						t.Errorf("Err() = %v, want an expired x509.CertificateInvalidError", err)
					}
				}
				if c.IsConnected() {
					t.Fatal("connected despite the certificate")
				}
			})
		}
	}

	for _, url := range []string{good.URL(), good.TCPURL()} {
		t.Run("trusted/"+url[:strings.Index(url, ":")], func(t *testing.T) {
			c := newClient(t, url, func(o *mqttgame.Options) { o.TLSConfig = &tls.Config{RootCAs: ca.pool} })
			connect(t, c)
			subscribe(t, c, "secure", mqttgame.SubscribeOptions{QoS: 1})
			c.PublishString("secure", "sealed", 1, false)
			tickUntil(t, "message over TLS", func() bool { return c.LastMessage("secure") == "sealed" }, c)
		})
	}
}
