// The person's data as a whole: a copy of everything stored about them, and deleting the account.

import { call, forgetSession } from '../api.js';
import { actionButton, announce, download, field, h, modal, section } from '../ui.js';
import { withVerification } from '../verify.js';

export const title = 'Your data';
export const fields = [];

export function render({ account }) {
  return [
    section('Download your data', {
      description: 'A JSON file with everything stored about your account: profile, sign-in details, two-step verification methods (without their secrets), sessions and activity.',
    }, h('div', { class: 'actions' }, actionButton('Download my data', async () => {
      const data = await withVerification((record) => call('GET', '/api/my-account/export', { verification: record }));
      download(`account-${account.id}.json`, `${JSON.stringify(data, null, 2)}\n`, 'application/json');
      announce('Your data was downloaded.');
    }))),
    section('Delete your account', {
      description: 'Your account and everything in it will be deleted, and you will be signed out everywhere. An administrator can restore it for a limited time.',
    }, h('div', { class: 'actions' }, actionButton('Delete my account', async () => {
      let confirmation;
      await modal({
        title: 'Delete your account?',
        description: 'This signs you out everywhere. Type DELETE to confirm.',
        submitLabel: 'Delete my account',
        danger: true,
        build: () => {
          const built = field('Type DELETE', { autocomplete: 'off', required: true });
          confirmation = built.input;
          return built.wrapper;
        },
        submit: async () => {
          if (confirmation.value.trim() !== 'DELETE') {
            confirmation.setAttribute('aria-invalid', 'true');
            throw new Error('Type DELETE in capitals to confirm.');
          }
        },
      });
      await withVerification((record) => call('DELETE', '/api/my-account', { verification: record }));
      forgetSession();
      document.getElementById('app').replaceChildren(h('main', { id: 'content', class: 'sign-in' }, h('div', { class: 'card' },
        h('h1', { text: 'Your account was deleted' }),
        h('p', { role: 'status', text: 'You have been signed out. Thank you for having been with us.' }),
        h('p', {}, h('a', { href: '/account/', text: 'Back to sign-in' })))));
    }, { class: 'danger' }))),
  ];
}
