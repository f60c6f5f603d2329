# An independent minter in another language, for the interoperability test: CBOR (RFC 8949),
# COSE_Sign1 (RFC 9052) and Base45 (RFC 9285) written here from the RFCs, Ed25519 from the
# Python `cryptography` package. Usage: py-mint.py <seed hex> <claims json>  -> prints LW1:...
import hashlib, json, struct, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

def head(major, n):
    if n < 24: return bytes([major << 5 | n])
    if n < 0x100: return bytes([major << 5 | 24, n])
    if n < 0x10000: return bytes([major << 5 | 25]) + struct.pack('>H', n)
    if n < 0x100000000: return bytes([major << 5 | 26]) + struct.pack('>I', n)
    return bytes([major << 5 | 27]) + struct.pack('>Q', n)

def enc(x):
    if isinstance(x, bool): raise TypeError('no bools here')
    if isinstance(x, int): return head(0, x) if x >= 0 else head(1, -1 - x)
    if isinstance(x, bytes): return head(2, len(x)) + x
    if isinstance(x, str):
        b = x.encode('utf-8'); return head(3, len(b)) + b
    if isinstance(x, list): return head(4, len(x)) + b''.join(enc(i) for i in x)
    if isinstance(x, dict): return head(5, len(x)) + b''.join(enc(k) + enc(v) for k, v in x.items())
    raise TypeError(type(x))

B45 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:'
def b45(b):
    out = []
    for i in range(0, len(b) - 1, 2):
        n = b[i] * 256 + b[i + 1]
        out += [B45[n % 45], B45[n // 45 % 45], B45[n // 2025]]
    if len(b) % 2:
        out += [B45[b[-1] % 45], B45[b[-1] // 45]]
    return ''.join(out)

seed = bytes.fromhex(sys.argv[1])
c = json.loads(sys.argv[2])
key = Ed25519PrivateKey.from_private_bytes(seed)
pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
kid = hashlib.sha256(pub).digest()[:8]
protected = enc({1: -8, 4: kid})
claims = {1: c['iss'], 3: c['aud'], 4: c['exp'], 6: c['iat'], 7: bytes.fromhex(c['cti']), 'amt': c['amt']}
for k in ('m', 'p', 'acct'):
    if k in c: claims[k] = c[k]
payload = enc(claims)
sig = key.sign(enc(['Signature1', protected, b'', payload]))
sign1 = enc([protected, {}, payload, sig])
if c.get('tagged', True): sign1 = head(6, 18) + sign1
print('LW1:' + b45(sign1))
