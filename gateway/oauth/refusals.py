"""What the authorization server says when it refuses: every message in English and Chinese.

Each names what went wrong and what to do. `error_description` carries the English (RFC 6749
§5.2 allows ASCII only); the problem's `detail` follows `Accept-Language`.
"""

from __future__ import annotations

from gateway.oauth.schemas import ASSERTION_TYPE
from policies.messages import Text

# client authentication (RFC 6749 §2.3, RFC 7523)
ONE_METHOD_ONLY = Text(
    "Use exactly one client authentication method: the Authorization header (Basic), "
    "client_secret in the body, or a client assertion (RFC 6749 §2.3).",
    "每个请求只能使用一种客户端认证方式：Authorization 头（Basic）、请求体中的 client_secret，"
    "或客户端断言（RFC 6749 §2.3）。",
)
NO_CREDENTIALS = Text(
    "The client is not authenticated: send its client_id and secret with HTTP Basic, or a "
    "private_key_jwt client assertion.",
    "客户端未认证：请通过 HTTP Basic 发送 client_id 和密钥，或发送 private_key_jwt 客户端断言。",
)
NO_ASSERTION = Text(
    "The client is not authenticated: the strict profile needs a private_key_jwt client "
    "assertion (client_assertion_type and client_assertion).",
    "客户端未认证：严格模式要求 private_key_jwt 客户端断言（client_assertion_type 和 "
    "client_assertion）。",
)
NOT_BASIC = Text(
    "Client authentication in the Authorization header uses the Basic scheme: "
    "'Basic base64(client_id:client_secret)'.",
    "在 Authorization 头中进行客户端认证须使用 Basic 方案："
    "“Basic base64(client_id:client_secret)”。",
)
BAD_BASIC = Text(
    "The Basic credentials must be base64 of the UTF-8 text 'client_id:client_secret', "
    "each part form-urlencoded.",
    "Basic 凭据必须是 UTF-8 文本“client_id:client_secret”的 base64 编码，且两部分均经过表单编码。",
)
POST_WITHOUT_ID = Text(
    "client_secret_post needs client_id in the body next to client_secret.",
    "使用 client_secret_post 时，请求体中须同时包含 client_id 和 client_secret。",
)
OTHER_CLIENT_ID = Text(
    "The client_id in the body differs from the client that authenticated: send one client_id.",
    "请求体中的 client_id 与完成认证的客户端不一致：请只使用同一个 client_id。",
)
UNKNOWN_CLIENT = Text(
    "No active client has this client_id: check it; a revoked client or a suspended partner "
    "must contact the bank.",
    "没有使用该 client_id 的有效客户端：请核对；若客户端已被撤销或合作方已被暂停，请联系银行。",
)
WRONG_SECRET = Text(
    "The client secret is wrong for this client_id: check it, or ask the bank for a new one.",
    "该 client_id 的客户端密钥不正确：请核对，或向银行申请新的密钥。",
)
STRICT_PROFILE = Text(
    "This gateway runs the strict FAPI 2.0 profile: authenticate with a private_key_jwt "
    "client assertion, not a secret.",
    "本网关采用 FAPI 2.0 严格模式：请使用 private_key_jwt 客户端断言认证，而不是密钥。",
)
REGISTERED_FOR_KEYS = Text(
    "This client is registered for private_key_jwt: authenticate with a client assertion "
    "signed by one of its registered keys.",
    "该客户端登记的认证方式为 private_key_jwt：请使用其登记密钥签名的客户端断言进行认证。",
)
REGISTERED_FOR_SECRET = Text(
    "This client is registered with a secret: authenticate with client_secret_basic or "
    "client_secret_post.",
    "该客户端登记的认证方式为密钥：请使用 client_secret_basic 或 client_secret_post 认证。",
)
BAD_ASSERTION_TYPE = Text(
    f"A client assertion needs client_assertion_type={ASSERTION_TYPE} and a client_assertion.",
    f"客户端断言须同时提供 client_assertion_type={ASSERTION_TYPE} 和 client_assertion。",
)
MALFORMED_ASSERTION = Text(
    "The client assertion is not a compact JWS of acceptable size: sign a small JWT.",
    "客户端断言不是大小合规的紧凑 JWS：请签发一个精简的 JWT。",
)
ASSERTION_HEADER = Text(
    "The client assertion must be signed with ES256 or PS256 and its header may name only "
    "alg, kid and typ.",
    "客户端断言必须使用 ES256 或 PS256 签名，且其头部只能包含 alg、kid 和 typ。",
)
ASSERTION_SUBJECT = Text(
    "The client assertion's iss and sub must both be the client_id.",
    "客户端断言的 iss 和 sub 都必须是 client_id。",
)
ASSERTION_AUDIENCE = Text(
    "The client assertion's aud must be the issuer {issuer}.",
    "客户端断言的 aud 必须是签发方标识 {issuer}。",
)
ASSERTION_TIMES = Text(
    "The client assertion has expired or is not valid yet (exp, iat, nbf): check your clock "
    "and sign a fresh one.",
    "客户端断言已过期或尚未生效（exp、iat、nbf）：请检查系统时钟并重新签发。",
)
ASSERTION_LIFETIME = Text(
    "A client assertion must expire within an hour of its issue.",
    "客户端断言的有效期不得超过签发后一小时。",
)
ASSERTION_JTI = Text(
    "The client assertion needs a jti (a unique id of at most 256 characters).",
    "客户端断言须包含 jti（不超过 256 个字符的唯一标识）。",
)
NO_USABLE_KEY = Text(
    "None of the client's registered keys can verify this assertion (by kid and alg; keys "
    "are P-256, or RSA 2048 to 4096 bits with exponent 65537): ask the bank to register one.",
    "该客户端登记的密钥均无法校验此断言（按 kid 和 alg 匹配；密钥须为 P-256，或 2048 至 4096 位、"
    "指数为 65537 的 RSA）：请联系银行登记合规密钥。",
)
ASSERTION_SIGNATURE = Text(
    "The client assertion's signature does not verify with the client's registered keys.",
    "客户端断言的签名无法用该客户端登记的密钥校验通过。",
)
ASSERTION_REPLAYED = Text(
    "This client assertion was already used: sign a new one with a fresh jti for every request.",
    "该客户端断言已被使用过：每个请求都须签发带有新 jti 的断言。",
)

# the token request
GRANT_TYPE_MISSING = Text(
    "'grant_type' is required: client_credentials, authorization_code or refresh_token.",
    "缺少 grant_type：可选 client_credentials、authorization_code 或 refresh_token。",
)
GRANT_TYPE_UNSUPPORTED = Text(
    "This grant type is not supported: use client_credentials, authorization_code or "
    "refresh_token.",
    "不支持该授权类型：请使用 client_credentials、authorization_code 或 refresh_token。",
)
DPOP_REQUIRED = Text(
    "The strict profile binds every token to a DPoP key: send a DPoP proof header with the "
    "token request.",
    "严格模式下所有令牌都须绑定 DPoP 密钥：请在令牌请求中携带 DPoP 证明头。",
)
CUSTOMER_GRANTS_ONLY = Text(
    "This client may use only client_credentials: the authorization code and refresh token "
    "grants need a partner client registered with customer scopes and a redirect URI.",
    "该客户端只能使用 client_credentials：授权码和刷新令牌模式需要登记了客户授权范围及重定向地址的"
    "合作方客户端。",
)
UNKNOWN_SCOPE = Text(
    "'{scope}' is not a scope of this gateway: see scopes_supported in the metadata.",
    "“{scope}”不是本网关的授权范围：请查看元数据中的 scopes_supported。",
)
CUSTOMER_SCOPE = Text(
    "'{scope}' is a customer scope: it is granted only by the authorization code flow with "
    "a consent the customer approves, not by client credentials.",
    "“{scope}”是客户授权范围：只能通过客户确认授权的授权码流程获得，不能通过客户端凭据获得。",
)
OPS_SCOPE = Text(
    "'{scope}' is for the bank's operations clients only; partner clients ask for partner "
    "scopes (products, consents, collections, events).",
    "“{scope}”仅供银行运营客户端使用；合作方客户端请申请合作方授权范围（products、consents、"
    "collections、events）。",
)
PARTNER_SCOPE_FOR_OPS = Text(
    "'{scope}' is a partner scope; operations clients ask for ops:read or ops:admin.",
    "“{scope}”是合作方授权范围；运营客户端请申请 ops:read 或 ops:admin。",
)
SCOPE_NOT_REGISTERED = Text(
    "This client is not registered for '{scope}': ask the bank to add it to the client.",
    "该客户端未登记“{scope}”授权范围：请联系银行为客户端添加。",
)
CODE_MISSING = Text(
    "'code' is required: send the authorization code from the redirect.",
    "缺少 code：请发送重定向中收到的授权码。",
)
CODE_UNKNOWN = Text(
    "The authorization code is not known for this client: send the code this client "
    "received on its redirect URI.",
    "该授权码不属于此客户端：请发送此客户端在其重定向地址上收到的授权码。",
)
CODE_EXPIRED = Text(
    "The authorization code has expired (codes live at most 60 seconds; exchange it at "
    "once): ask the customer to authorise again with a new consent.",
    "授权码已过期（有效期最长 60 秒，请收到后立即兑换）：请以新的客户授权重新请求客户确认。",
)
CODE_REUSED = Text(
    "The authorization code was already used, so every token issued for it is revoked: ask "
    "the customer to authorise again with a new consent.",
    "该授权码已被使用过，据此签发的所有令牌均已撤销：请以新的客户授权重新请求客户确认。",
)
REDIRECT_URI_MISMATCH = Text(
    "'redirect_uri' must be exactly the one of the pushed authorization request.",
    "redirect_uri 必须与推送授权请求中的完全一致。",
)
VERIFIER_MISSING = Text(
    "'code_verifier' is required: send the PKCE verifier whose S256 hash you pushed as "
    "code_challenge.",
    "缺少 code_verifier：请发送与推送的 code_challenge（S256）对应的 PKCE 校验值。",
)
VERIFIER_MALFORMED = Text(
    "'code_verifier' must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~'.",
    "code_verifier 须为 43 至 128 个字符，仅含 A-Z、a-z、0-9 及“-”“.”“_”“~”。",
)
VERIFIER_MISMATCH = Text(
    "'code_verifier' does not match the code_challenge that was pushed (S256).",
    "code_verifier 与推送的 code_challenge（S256）不匹配。",
)
DPOP_BINDING = Text(
    "This grant is bound to a DPoP key: send a DPoP proof signed by that key.",
    "该授权已绑定 DPoP 密钥：请发送由该密钥签名的 DPoP 证明。",
)
REFRESH_MISSING = Text(
    "'refresh_token' is required.",
    "缺少 refresh_token。",
)
REFRESH_UNKNOWN = Text(
    "The refresh token is not known for this client: send the refresh token issued to it.",
    "该刷新令牌不属于此客户端：请发送签发给此客户端的刷新令牌。",
)
REFRESH_REVOKED = Text(
    "The refresh token was revoked: ask the customer to authorise again with a new consent.",
    "刷新令牌已被撤销：请以新的客户授权重新请求客户确认。",
)
REFRESH_EXPIRED = Text(
    "The refresh token has expired: ask the customer to authorise again with a new consent.",
    "刷新令牌已过期：请以新的客户授权重新请求客户确认。",
)
REFRESH_SCOPE = Text(
    "A refresh may ask only for scopes the customer granted ('{scope}').",
    "刷新时只能申请客户已授予的授权范围（“{scope}”）。",
)
CONSENT_REVOKED = Text(
    "The customer's consent behind this grant was revoked: ask the customer for a new consent.",
    "此授权所依据的客户授权已被撤销：请重新请求客户授权。",
)
CONSENT_EXPIRED = Text(
    "The customer's consent behind this grant has expired: ask the customer for a new consent.",
    "此授权所依据的客户授权已过期：请重新请求客户授权。",
)
CONSENT_CONSUMED = Text(
    "The customer's consent behind this grant was used up (a payment consent is single use): "
    "ask the customer for a new consent.",
    "此授权所依据的客户授权已使用完毕（支付授权仅可使用一次）：请重新请求客户授权。",
)
CONSENT_NOT_AUTHORISED = Text(
    "The customer's consent behind this grant is {status}, not Authorised: ask the customer "
    "for a new consent.",
    "此授权所依据的客户授权状态为 {status}，而非 Authorised：请重新请求客户授权。",
)

# revocation and introspection
TOKEN_MISSING = Text(
    "'token' is required: send the access or refresh token.",
    "缺少 token：请发送访问令牌或刷新令牌。",
)

# the pushed authorization request
REDIRECT_URI_MISSING = Text(
    "'redirect_uri' is required: send one of the client's registered redirect URIs.",
    "缺少 redirect_uri：请发送该客户端已登记的重定向地址之一。",
)

# DPoP at the token and PAR endpoints
DPOP_NONCE = Text(
    "A DPoP nonce is required: retry with the nonce of the DPoP-Nonce header in the proof.",
    "需要 DPoP 随机数：请在证明中带上 DPoP-Nonce 响应头给出的随机数后重试。",
)

# whatever authlib still says, by error code
REFUSED: dict[str, Text] = {
    "invalid_request": Text(
        "The token request is missing a parameter or has a malformed one: see RFC 6749 §4.",
        "令牌请求缺少参数或参数格式错误：请参阅 RFC 6749 第 4 节。",
    ),
    "invalid_grant": Text(
        "The grant is invalid, expired or revoked: start the authorization again.",
        "授权凭据无效、已过期或已撤销：请重新发起授权。",
    ),
    "invalid_scope": Text(
        "The requested scope is not allowed for this client or grant.",
        "所申请的授权范围不适用于该客户端或授权类型。",
    ),
    "unauthorized_client": CUSTOMER_GRANTS_ONLY,
    "unsupported_grant_type": GRANT_TYPE_UNSUPPORTED,
    "invalid_client": NO_CREDENTIALS,
}
REFUSED_OTHERWISE = Text(
    "The authorization server refused the request: check it against RFC 6749 and the "
    "server metadata.",
    "授权服务器拒绝了该请求：请对照 RFC 6749 和服务器元数据检查请求。",
)
