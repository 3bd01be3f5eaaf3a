using System.Net;
using System.Text;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Gateway.Security;

/// <summary>
/// The login check of MQTT over TCP and over WebSocket: the first <c>ValidatingConnectionAsync</c>
/// handler (see <see cref="Mqtt.MqttListenerService"/>), so the later ones see a refusal and leave it be.
/// </summary>
/// <remarks>
/// Refusals: an anonymous client where anonymous is not allowed, CONNACK 0x87 Not authorized (MQTT 5) /
/// 0x05 (3.1.1); unknown user or wrong password, 0x86 Bad user name or password / 0x04; a source held
/// back after too many failures, 0x9F Connection rate exceeded (MQTT 5) / 0x03 Server unavailable
/// (3.1.1 has no closer code). MQTT 5 clients also get the reason in words.
/// </remarks>
internal sealed class MqttLogin(GatewayAuthenticator authenticator)
{
    public async Task OnValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        if (e.ReasonCode != MqttConnectReasonCode.Success) return;
        var source = (e.RemoteEndPoint as IPEndPoint)?.Address;
        var password = e.RawPassword is { } raw ? Encoding.UTF8.GetString(raw) : null;
        var result = await authenticator.LoginAsync("mqtt", e.UserName, password, source, e.CancellationToken).ConfigureAwait(false);
        if (result.IsAccepted) return;

        var v5 = e.ProtocolVersion == MqttProtocolVersion.V500;
        e.ReasonCode = result.Outcome switch
        {
            LoginOutcome.AnonymousRefused => MqttConnectReasonCode.NotAuthorized,
            LoginOutcome.HeldBack => v5 ? MqttConnectReasonCode.ConnectionRateExceeded : MqttConnectReasonCode.ServerUnavailable,
            _ => MqttConnectReasonCode.BadUserNameOrPassword,
        };
        if (v5) e.ReasonString = result.Reason;
    }
}
