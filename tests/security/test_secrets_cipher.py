"""The credentials cipher during a key rotation: encrypt with the current key, decrypt with any configured one."""

from __future__ import annotations

import pytest

from meetgraph.crypto import CredentialCipher, UndecryptableCredentials, previous_keys

SECRET = {"access_token": "at", "refresh_token": "rt"}


def test_previous_keys_are_a_comma_separated_list() -> None:
    assert previous_keys(None) == [] and previous_keys("") == []
    assert previous_keys("key-b, key-a,") == ["key-b", "key-a"]


def test_the_previous_key_decrypts_and_rotate_moves_it_to_the_current_key() -> None:
    # given
    written = CredentialCipher("key-a").encrypt(SECRET)
    rotating = CredentialCipher("key-c", previous_keys("key-b,key-a"))
    # when
    rotated = rotating.rotate(written)
    # then
    assert rotating.decrypt(written) == SECRET and not rotating.is_current(written)
    assert CredentialCipher("key-c").decrypt(rotated) == SECRET and rotating.is_current(rotated)
    assert rotating.is_current(rotating.encrypt(SECRET))


def test_a_key_that_is_not_configured_is_a_clear_error() -> None:
    written = CredentialCipher("key-a").encrypt(SECRET)
    with pytest.raises(UndecryptableCredentials, match="MEETGRAPH_SECRET_KEY_PREVIOUS"):
        CredentialCipher("key-b").decrypt(written)
    with pytest.raises(UndecryptableCredentials):
        CredentialCipher("key-b", ["key-c"]).rotate(written)
