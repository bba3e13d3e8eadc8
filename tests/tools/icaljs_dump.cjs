// Parse an .ics from stdin with Mozilla's ical.js (Thunderbird's parser) and print what it read
// as JSON. The module path comes from $ICALJS_MODULE (e.g. .../node_modules/ical.js/dist/ical.es5.cjs).
const ICAL = require(process.env.ICALJS_MODULE);
let text = "";
process.stdin.on("data", (chunk) => { text += chunk; });
process.stdin.on("end", () => {
  const calendar = new ICAL.Component(ICAL.parse(text));
  const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
    const event = new ICAL.Event(vevent);
    return {
      uid: event.uid,
      summary: event.summary,
      start: event.startDate.toJSDate().toISOString(),
      sequence: event.sequence,
      status: vevent.getFirstPropertyValue("status"),
      alarms: vevent.getAllSubcomponents("valarm").map((alarm) => {
        const trigger = alarm.getFirstProperty("trigger");
        const value = trigger.getFirstValue();
        return { type: trigger.type, at: value.toJSDate ? value.toJSDate().toISOString() : String(value) };
      }),
    };
  });
  process.stdout.write(JSON.stringify({ name: calendar.getFirstPropertyValue("x-wr-calname"), events }));
});
