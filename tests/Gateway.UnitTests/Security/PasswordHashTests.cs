using Gateway.Security;

namespace Gateway.UnitTests.Security;

public sealed class PasswordHashTests
{
    [Fact]
    public void A_hash_matches_its_password_and_no_other()
    {
        var hash = PasswordHash.Create("correct horse", PasswordHash.MinimumIterations);

        Assert.True(hash.Matches("correct horse"));
        Assert.False(hash.Matches("correct hors"));
        Assert.False(hash.Matches("Correct horse"));
        Assert.False(hash.Matches(""));
    }

    [Fact]
    public void The_text_form_is_scheme_iterations_salt_hash_and_reads_back()
    {
        var hash = PasswordHash.Create("pw", PasswordHash.MinimumIterations);
        var text = hash.ToString();

        var parts = text.Split('$');
        Assert.Equal(["", "pbkdf2-sha256", "10000"], parts[..3]);
        Assert.Equal(16, Convert.FromBase64String(parts[3]).Length);
        Assert.Equal(32, Convert.FromBase64String(parts[4]).Length);
        Assert.DoesNotContain("pw", text.Replace("pbkdf2", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.True(PasswordHash.Parse(text).Matches("pw"));
    }

    [Fact]
    public void Two_hashes_of_one_password_differ_by_their_salt()
    {
        var a = PasswordHash.Create("same", PasswordHash.MinimumIterations);
        var b = PasswordHash.Create("same", PasswordHash.MinimumIterations);
        Assert.NotEqual(a.ToString(), b.ToString());
        Assert.True(b.Matches("same"));
    }

    [Fact]
    public void New_hashes_use_the_default_iteration_count()
    {
        Assert.Equal(600_000, PasswordHash.Create("x").Iterations);
    }

    /// <summary>A known vector: PBKDF2-HMAC-SHA256("password", "saltsaltsaltsalt", 10,000 rounds), computed by Python's hashlib, an independent implementation.</summary>
    [Fact]
    public void The_hash_is_PBKDF2_HMAC_SHA256()
    {
        var salt = "saltsaltsaltsalt"u8.ToArray();
        var expected = Convert.FromHexString(Pbkdf2Vector);
        var hash = new PasswordHash(PasswordHash.MinimumIterations, salt, expected);
        Assert.True(hash.Matches("password"));
    }

    // python3 -c "import hashlib;print(hashlib.pbkdf2_hmac('sha256',b'password',b'saltsaltsaltsalt',10000).hex())"
    private const string Pbkdf2Vector = "fc706db7b67fee9d02cd1bd237507e297aca36c92f46db35516c3ad73293154a";

    [Theory]
    [InlineData("plaintext")]
    [InlineData("$pbkdf2-sha256$10000$c2FsdHNhbHQ=")]
    [InlineData("$md5$10000$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==")]
    [InlineData("$pbkdf2-sha256$9999$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==")]
    [InlineData("$pbkdf2-sha256$x$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==")]
    [InlineData("$pbkdf2-sha256$10000$!!!$aGFzaGhhc2hoYXNoaGFzaA==")]
    public void Anything_but_a_well_formed_hash_is_refused(string text)
    {
        var ex = Assert.Throws<FormatException>(() => PasswordHash.Parse(text));
        Assert.DoesNotContain("aGFzaG", ex.Message, StringComparison.Ordinal);
    }
}
