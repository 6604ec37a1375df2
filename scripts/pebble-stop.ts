/** Stops the pebble this checkout started (a demo leaves it running for `boxship status`); `npm run hosts:down` calls it. */
import { stopOwnPebble } from '../test/helpers/pebble.js';

await stopOwnPebble();
