"""What each OAuth error means and what the client should do, in Chinese and English.

The OAuth endpoints answer RFC 6749 §5.2 errors (`error`: `invalid_grant`, ...); each has a
page at `/problems/oauth-<error>` (`/problems/oauth-invalid-grant`) built from these.
"""

from __future__ import annotations

from gateway.portal.guides import Guide
from policies.messages import Text

OAUTH_GUIDES: dict[str, Guide] = {
    "invalid_request": Guide(
        400,
        Text(
            "The OAuth request lacks a parameter, repeats one or has one the endpoint cannot "
            "accept.",
            "OAuth 请求缺少参数、参数重复，或包含该接口不接受的参数。",
        ),
        Text(
            "Read `error_description`, correct the form (application/x-www-form-urlencoded) "
            "and send it again.",
            "请阅读 error_description，修正表单（application/x-www-form-urlencoded）后重新发送。",
        ),
    ),
    "invalid_client": Guide(
        401,
        Text(
            "Client authentication failed: unknown client, wrong secret, a bad client "
            "assertion, or a client that is suspended or revoked.",
            "客户端认证失败：客户端不存在、密钥错误、客户端断言无效，或客户端已被暂停或撤销。",
        ),
        Text(
            "Check the client id and the credentials your client is registered with "
            "(private_key_jwt: a fresh assertion whose aud is the issuer).",
            "请核对客户端编号及其登记的凭据（private_key_jwt：使用新的断言，且 aud 为签发方）。",
        ),
    ),
    "invalid_grant": Guide(
        400,
        Text(
            "The authorization code or refresh token is invalid, expired, already used, or "
            "was issued to another client; or the PKCE verifier does not match.",
            "授权码或刷新令牌无效、已过期、已被使用或属于其他客户端，或 PKCE 验证码不匹配。",
        ),
        Text(
            "Start the authorization again (codes are single-use and live 60 seconds), with "
            "the code_verifier of that request.",
            "请重新发起授权（授权码只能使用一次，有效期 60 秒），并使用该次请求的 code_verifier。",
        ),
    ),
    "unauthorized_client": Guide(
        400,
        Text(
            "The client is not allowed to use this grant type or authentication method.",
            "该客户端无权使用此授权类型或认证方式。",
        ),
        Text(
            "Use a grant and an authentication method your client is registered for.",
            "请使用客户端已登记的授权类型和认证方式。",
        ),
    ),
    "unsupported_grant_type": Guide(
        400,
        Text(
            "The token endpoint does not support this grant_type.", "令牌接口不支持该 grant_type。"
        ),
        Text(
            "Use client_credentials, authorization_code or refresh_token.",
            "请使用 client_credentials、authorization_code 或 refresh_token。",
        ),
    ),
    "unsupported_response_type": Guide(
        400,
        Text("Only response_type=code is supported.", "仅支持 response_type=code。"),
        Text("Send response_type=code.", "请发送 response_type=code。"),
    ),
    "unsupported_token_type": Guide(
        400,
        Text(
            "The endpoint cannot revoke or inspect this type of token.",
            "该接口无法撤销或查询此类令牌。",
        ),
        Text(
            "Send an access token or a refresh token issued by this gateway.",
            "请发送本网关签发的访问令牌或刷新令牌。",
        ),
    ),
    "invalid_scope": Guide(
        400,
        Text(
            "The requested scope is unknown, not registered for the client, or not allowed "
            "for this grant.",
            "请求的授权范围未知、未为该客户端登记，或不适用于此授权类型。",
        ),
        Text(
            "Ask only for scopes registered for your client: partner-level scopes by client "
            "credentials, customer scopes by the authorization code flow.",
            "请只申请客户端已登记的范围：合作方级范围使用客户端凭据模式，客户数据范围使用授权码模式。",
        ),
    ),
    "invalid_request_uri": Guide(
        400,
        Text(
            "The request_uri is unknown, already used or expired.",
            "request_uri 不存在、已被使用或已过期。",
        ),
        Text(
            "Push the authorization request again at /oauth/par and use the new request_uri "
            "within its expires_in seconds.",
            "请重新向 /oauth/par 推送授权请求，并在 expires_in 秒内使用新的 request_uri。",
        ),
    ),
    "invalid_dpop_proof": Guide(
        400,
        Text(
            "The DPoP proof is missing, malformed, expired, replayed, or does not match the "
            "request's method and URL or the token's key.",
            "DPoP 证明缺失、格式错误、已过期、被重放，或与请求的方法、URL 或令牌绑定的密钥不符。",
        ),
        Text(
            "Send a new proof for each request, signed by the bound key, with this method, "
            "this URL (htu) and a fresh iat and jti.",
            "每个请求都应发送新的证明：由绑定的密钥签名，"
            "包含本次请求的方法、URL（htu）以及新的 iat 和 jti。",
        ),
    ),
    "use_dpop_nonce": Guide(
        400,
        Text(
            "The gateway requires a server nonce in the DPoP proof.",
            "网关要求 DPoP 证明中包含服务端随机数。",
        ),
        Text(
            "Repeat the request with a proof whose nonce claim is the DPoP-Nonce response "
            "header's value.",
            "请以 DPoP-Nonce 响应头中的值作为 nonce 声明生成证明，然后重发请求。",
        ),
    ),
    "access_denied": Guide(
        None,
        Text(
            "The customer did not approve the authorization request.",
            "客户未同意该授权请求。",
        ),
        Text(
            "Tell the customer what they declined; start a new authorization only if they ask.",
            "请告知客户其拒绝了授权；仅在客户要求时重新发起授权。",
        ),
    ),
    "temporarily_unavailable": Guide(
        503,
        Text(
            "The authorization server cannot handle the request for now.",
            "授权服务器暂时无法处理该请求。",
        ),
        Text("Retry in a little while.", "请稍后重试。"),
    ),
    "server_error": Guide(
        500,
        Text(
            "The authorization server failed in a way the client cannot fix.",
            "授权服务器内部出错，客户端无法自行修复。",
        ),
        Text(
            "Retry later; if it persists, contact the bank quoting the request id (`instance`).",
            "请稍后重试；如果持续出现，请联系银行并提供请求编号（instance）。",
        ),
    ),
}
