// Name, avatar and the OpenID Connect profile claims.

import { call } from '../api.js';
import { announce, field, form, h, section } from '../ui.js';

export const title = 'Profile';
export const fields = ['name', 'avatar', 'profile'];

const CLAIMS = [
  ['givenName', 'Given name', { autocomplete: 'given-name' }],
  ['familyName', 'Family name', { autocomplete: 'family-name' }],
  ['nickname', 'Nickname', { autocomplete: 'nickname' }],
  ['website', 'Website', { type: 'url', autocomplete: 'url' }],
  ['birthdate', 'Birth date', { type: 'date', autocomplete: 'bday' }],
  ['locale', 'Language', { autocomplete: 'language', placeholder: 'en-US' }],
];

export function render({ account, mode, refresh }) {
  const parts = [];
  const nameMode = mode('name');
  const avatarMode = mode('avatar');
  if (nameMode !== 'Off' || avatarMode !== 'Off') {
    const name = nameMode !== 'Off' ? field('Name', { value: account.name ?? '', autocomplete: 'name', maxlength: 128 }, { mode: nameMode }) : null;
    const avatar = avatarMode !== 'Off'
      ? field('Avatar URL', { type: 'url', value: account.avatar ?? '', placeholder: 'https://…' }, { mode: avatarMode, hint: 'A link to a picture of you (https).' })
      : null;
    const preview = account.avatar ? h('img', { class: 'avatar', src: account.avatar, alt: 'Your avatar', width: 64, height: 64 }) : null;
    const editable = nameMode === 'Edit' || avatarMode === 'Edit';
    parts.push(section('Name and picture', { mode: editable ? 'Edit' : 'ReadOnly' }, preview, form({
      label: 'Name and picture',
      submitLabel: 'Save',
      mode: editable ? 'Edit' : 'ReadOnly',
      children: [name?.wrapper, avatar?.wrapper],
      onSubmit: async () => {
        const body = {};
        if (nameMode === 'Edit') body.name = name.input.value.trim() || null;
        if (avatarMode === 'Edit') body.avatar = avatar.input.value.trim() || null;
        await call('PATCH', '/api/my-account', { body });
        announce('Your profile was saved.');
        await refresh();
      },
    })));
  }
  const profileMode = mode('profile');
  if (profileMode !== 'Off') {
    const current = account.profile ?? {};
    const inputs = CLAIMS.map(([key, label, props]) => [key, field(label, { ...props, value: current[key] ?? '' }, { mode: profileMode })]);
    parts.push(section('About you', { mode: profileMode }, form({
      label: 'About you',
      submitLabel: 'Save',
      mode: profileMode,
      children: inputs.map(([, input]) => input.wrapper),
      onSubmit: async () => {
        const body = {};
        for (const [key, { input }] of inputs) {
          const value = input.value.trim();
          // Claims merge on the server: only what is filled in or was cleared is sent.
          if (value || current[key]) body[key] = value;
        }
        await call('PATCH', '/api/my-account/profile', { body });
        announce('Your details were saved.');
        await refresh();
      },
    })));
  }
  return parts;
}
